"""SMS Works compatibility: deleted messages, one-time passcodes

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import smsbridge.db.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("messages", "inbound_messages"):
        op.add_column(
            table, sa.Column("deleted_at", smsbridge.db.models.UTCDateTime(), nullable=True)
        )
    op.create_table(
        "otps",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("destination", sa.String(length=20), nullable=False),
        sa.Column("passcode_digest", sa.String(length=64), nullable=False),
        sa.Column("validity_seconds", sa.Integer(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("expires_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("modified_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("verified_at", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_otps_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_otps")),
    )
    op.create_index("ix_otps_account_id_passcode_digest", "otps", ["account_id", "passcode_digest"])
    op.create_index(
        "ix_otps_account_id_destination_created_at",
        "otps",
        ["account_id", "destination", "created_at"],
    )
    op.create_table(
        "otp_failures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_failures")),
    )
    op.create_index("ix_otp_failures_account_id_at", "otp_failures", ["account_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_otp_failures_account_id_at", table_name="otp_failures")
    op.drop_table("otp_failures")
    op.drop_index("ix_otps_account_id_destination_created_at", table_name="otps")
    op.drop_index("ix_otps_account_id_passcode_digest", table_name="otps")
    op.drop_table("otps")
    for table in ("messages", "inbound_messages"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("deleted_at")
