"""email bridge

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 20:50:55.108166
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import smsbridge.db.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "gateway_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_gateway_secrets")),
    )
    op.create_table(
        "inbound_emails",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("envelope_sender", sa.String(length=320), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("from_address", sa.String(length=320), nullable=True),
        sa.Column("received_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("claimed_at", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.Column("processed_at", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_emails")),
    )
    with op.batch_alter_table("inbound_emails", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbound_emails_status_received_at", ["status", "received_at"], unique=False
        )

    op.create_table(
        "conversations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("reply_number", sa.String(length=20), nullable=False),
        sa.Column("customer", sa.String(length=20), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("email_sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("last_activity_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_conversations_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint(
            "account_id",
            "reply_number",
            "customer",
            name=op.f("uq_conversations_account_id_reply_number_customer"),
        ),
    )
    op.create_table(
        "emails",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("envelope_sender", sa.String(length=320), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("first_recipient", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("ready_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("claimed_at", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("sent_at", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_emails_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_emails")),
    )
    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_emails_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_emails_first_recipient"), ["first_recipient"], unique=False
        )
        batch_op.create_index("ix_emails_status_ready_at", ["status", "ready_at"], unique=False)

    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("emailed_to", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("email_id", sa.String(length=36), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_inbound_messages_conversation_id"), ["conversation_id"], unique=False
        )

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("conversation_id", sa.String(length=36), nullable=True))

    with op.batch_alter_table("reply_numbers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("copy_replies", sa.Boolean(), server_default="1", nullable=False)
        )
        batch_op.add_column(
            sa.Column("authorised_senders", sa.JSON(), server_default="[]", nullable=False)
        )


def downgrade() -> None:

    with op.batch_alter_table("reply_numbers", schema=None) as batch_op:
        batch_op.drop_column("authorised_senders")
        batch_op.drop_column("copy_replies")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("conversation_id")

    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_messages_conversation_id"))
        batch_op.drop_column("email_id")
        batch_op.drop_column("emailed_to")
        batch_op.drop_column("conversation_id")

    with op.batch_alter_table("emails", schema=None) as batch_op:
        batch_op.drop_index("ix_emails_status_ready_at")
        batch_op.drop_index(batch_op.f("ix_emails_first_recipient"))
        batch_op.drop_index(batch_op.f("ix_emails_conversation_id"))

    op.drop_table("emails")
    op.drop_table("conversations")
    with op.batch_alter_table("inbound_emails", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_emails_status_received_at")

    op.drop_table("inbound_emails")
    op.drop_table("gateway_secrets")
