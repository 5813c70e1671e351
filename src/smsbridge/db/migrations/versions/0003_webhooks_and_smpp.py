"""webhooks and smpp

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 21:09:03.329256
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import smsbridge.db.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "carrier_parts",
        sa.Column("carrier_ref", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("part_index", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("carrier_ref", name=op.f("pk_carrier_parts")),
    )
    with op.batch_alter_table("carrier_parts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_carrier_parts_message_id"), ["message_id"], unique=False
        )

    op.create_table(
        "inbound_parts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("group_key", sa.String(length=200), nullable=False),
        sa.Column("part_number", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=20), nullable=False),
        sa.Column("data_coding", sa.Integer(), nullable=False),
        sa.Column("fill_bits", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("carrier_ref", sa.String(length=64), nullable=False),
        sa.Column("received_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_parts")),
        sa.UniqueConstraint(
            "group_key", "part_number", name=op.f("uq_inbound_parts_group_key_part_number")
        ),
    )
    with op.batch_alter_table("inbound_parts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_parts_group_key"), ["group_key"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("ready_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("claimed_at", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("sent_at", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_webhook_deliveries_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index(
            "ix_webhook_deliveries_status_ready_at", ["status", "ready_at"], unique=False
        )

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("default_deliveryreporturl", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("inbound_webhook_url", sa.Text(), nullable=True))


def downgrade() -> None:

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("inbound_webhook_url")
        batch_op.drop_column("default_deliveryreporturl")
        batch_op.drop_column("webhook_secret")

    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_status_ready_at")
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_message_id"))
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_account_id"))

    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("inbound_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_parts_group_key"))

    op.drop_table("inbound_parts")
    with op.batch_alter_table("carrier_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_carrier_parts_message_id"))

    op.drop_table("carrier_parts")
