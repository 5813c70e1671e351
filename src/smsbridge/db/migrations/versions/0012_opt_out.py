"""opt-out: the suppression list, its audit trail and each account's choices

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import smsbridge.db.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("customer", sa.String(length=20), nullable=False),
        sa.Column("reply_number", sa.String(length=20), nullable=False),
        sa.Column("created_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("keyword", sa.String(length=50), nullable=True),
        sa.Column("actor", sa.String(length=400), nullable=True),
        sa.Column("inbound_message_id", sa.String(length=36), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_suppressions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint(
            "account_id",
            "customer",
            "reply_number",
            name=op.f("uq_suppressions_account_id_customer_reply_number"),
        ),
    )
    op.create_index(
        "ix_suppressions_account_id_created_at", "suppressions", ["account_id", "created_at"]
    )
    op.create_table(
        "suppression_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("customer", sa.String(length=20), nullable=False),
        sa.Column("reply_number", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("keyword", sa.String(length=50), nullable=True),
        sa.Column("actor", sa.String(length=400), nullable=True),
        sa.Column("inbound_message_id", sa.String(length=36), nullable=True),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_suppression_events_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression_events")),
    )
    op.create_index(
        "ix_suppression_events_account_id_customer_at",
        "suppression_events",
        ["account_id", "customer", "at"],
    )
    op.create_table(
        "optout_preferences",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=True),
        sa.Column("texts", sa.JSON(), nullable=True),
        sa.Column("updated_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_optout_preferences_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_optout_preferences")),
    )


def downgrade() -> None:
    op.drop_table("optout_preferences")
    op.drop_index("ix_suppression_events_account_id_customer_at", table_name="suppression_events")
    op.drop_table("suppression_events")
    op.drop_index("ix_suppressions_account_id_created_at", table_name="suppressions")
    op.drop_table("suppressions")
