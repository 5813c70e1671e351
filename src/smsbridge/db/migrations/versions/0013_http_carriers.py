"""HTTP carriers: what they charged beside what we billed, and each Android SIM's sends

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import smsbridge.db.models

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carrier_charges",
        sa.Column("carrier_ref", sa.String(length=64), nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("billed_segments", sa.Integer(), nullable=True),
        sa.Column("reported_segments", sa.Integer(), nullable=True),
        sa.Column("price", sa.String(length=32), nullable=True),
        sa.Column("price_unit", sa.String(length=8), nullable=True),
        sa.Column("mismatch", sa.Boolean(), nullable=False),
        sa.Column("checked_at", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("carrier_ref", name=op.f("pk_carrier_charges")),
    )
    op.create_index(
        op.f("ix_carrier_charges_mismatch"), "carrier_charges", ["mismatch"], unique=False
    )

    op.create_table(
        "android_sends",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("sim", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("sent_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_android_sends")),
    )
    op.create_index(
        "ix_android_sends_phone_sim_sent_at", "android_sends", ["phone", "sim", "sent_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_android_sends_phone_sim_sent_at", table_name="android_sends")
    op.drop_table("android_sends")
    op.drop_index(op.f("ix_carrier_charges_mismatch"), table_name="carrier_charges")
    op.drop_table("carrier_charges")
