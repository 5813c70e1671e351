"""smpp evidence: submit times and retry counts, receipts' evidence, parked PDUs, MO fingerprints

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from smsbridge.db.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("submitted_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("retries", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("orphan_receipts") as batch:
        batch.add_column(sa.Column("destination", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("submitted_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("text", sa.Text(), nullable=True))
    op.create_table(
        "smpp_parked",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_smpp_parked")),
    )
    op.create_table(
        "smpp_inbound_seen",
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("carrier_ref", sa.String(length=64), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name=op.f("pk_smpp_inbound_seen")),
    )
    with op.batch_alter_table("smpp_inbound_seen") as batch:
        batch.create_index(batch.f("ix_smpp_inbound_seen_seen_at"), ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_table("smpp_inbound_seen")
    op.drop_table("smpp_parked")
    with op.batch_alter_table("orphan_receipts") as batch:
        batch.drop_column("text")
        batch.drop_column("submitted_at")
        batch.drop_column("destination")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("retries")
        batch.drop_column("submitted_at")
