"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 20:25:30.520035
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import smsbridge.db.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("balance_milli", sa.BigInteger(), nullable=False),
        sa.Column("allow_domestic", sa.Boolean(), nullable=False),
        sa.Column("allow_international", sa.Boolean(), nullable=False),
        sa.Column("created_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "orphan_receipts",
        sa.Column("carrier_ref", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("code", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("received_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("carrier_ref", name=op.f("pk_orphan_receipts")),
    )
    op.create_table(
        "sim_outcomes",
        sa.Column("destination", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("destination", name=op.f("pk_sim_outcomes")),
    )
    op.create_table(
        "sim_submissions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("carrier_ref", sa.String(length=64), nullable=False),
        sa.Column("message_ref", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("destination", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("submitted_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("receipt_due_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("receipt_sent", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_submissions")),
        sa.UniqueConstraint("carrier_ref", name=op.f("uq_sim_submissions_carrier_ref")),
    )
    with op.batch_alter_table("sim_submissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sim_submissions_destination"), ["destination"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sim_submissions_message_ref"), ["message_ref"], unique=False
        )
        batch_op.create_index(
            "ix_sim_submissions_receipt_sent_due", ["receipt_sent", "receipt_due_at"], unique=False
        )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_api_keys_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_account_id"), ["account_id"], unique=False)

    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("schedule", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_batches_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batches_account_id"), ["account_id"], unique=False)

    op.create_table(
        "credit_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("amount_milli", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=True),
        sa.Column("batch_id", sa.String(length=36), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_credit_entries_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_entries")),
    )
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_entries_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_credit_entries_message_id"), ["message_id"], unique=False
        )

    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_idempotency_keys_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "inbound_messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("reply_number", sa.String(length=20), nullable=False),
        sa.Column("sender", sa.String(length=20), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("keyword", sa.String(length=50), nullable=True),
        sa.Column("carrier_ref", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("received_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_inbound_messages_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_messages")),
        sa.UniqueConstraint("carrier_ref", name=op.f("uq_inbound_messages_carrier_ref")),
    )
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbound_messages_account_id_received_at",
            ["account_id", "received_at"],
            unique=False,
        )

    op.create_table(
        "reply_numbers",
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("response_emails", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("added_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("assigned_at", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.Column("released_at", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_reply_numbers_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_reply_numbers")),
    )
    with op.batch_alter_table("reply_numbers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reply_numbers_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=True),
        sa.Column("sender", sa.String(length=20), nullable=False),
        sa.Column("destination", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tag", sa.String(length=50), nullable=True),
        sa.Column("response_emails", sa.JSON(), nullable=False),
        sa.Column("deliveryreporturl", sa.Text(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=True),
        sa.Column("ttl", sa.Integer(), nullable=True),
        sa.Column("validity_minutes", sa.Integer(), nullable=False),
        sa.Column("encoding", sa.String(length=8), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column("credits_milli", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("ready_at", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("schedule", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_at", smsbridge.db.models.UTCDateTime(), nullable=True),
        sa.Column("carrier_ref", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failure_code", sa.Integer(), nullable=True),
        sa.Column("failure_detail", sa.Text(), nullable=True),
        sa.Column("failure_permanent", sa.Boolean(), nullable=True),
        sa.Column("created", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.Column("modified", smsbridge.db.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_messages_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_messages_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("carrier_ref", name=op.f("uq_messages_carrier_ref")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_account_id_created", ["account_id", "created"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_messages_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(
            "ix_messages_sender_destination_created",
            ["sender", "destination", "created"],
            unique=False,
        )
        batch_op.create_index("ix_messages_state_ready_at", ["state", "ready_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_state_ready_at")
        batch_op.drop_index("ix_messages_sender_destination_created")
        batch_op.drop_index(batch_op.f("ix_messages_batch_id"))
        batch_op.drop_index("ix_messages_account_id_created")

    op.drop_table("messages")
    with op.batch_alter_table("reply_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reply_numbers_account_id"))

    op.drop_table("reply_numbers")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_messages_account_id_received_at")

    op.drop_table("inbound_messages")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("credit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_entries_message_id"))
        batch_op.drop_index(batch_op.f("ix_credit_entries_account_id"))

    op.drop_table("credit_entries")
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_batches_account_id"))

    op.drop_table("batches")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_account_id"))

    op.drop_table("api_keys")
    with op.batch_alter_table("sim_submissions", schema=None) as batch_op:
        batch_op.drop_index("ix_sim_submissions_receipt_sent_due")
        batch_op.drop_index(batch_op.f("ix_sim_submissions_message_ref"))
        batch_op.drop_index(batch_op.f("ix_sim_submissions_destination"))

    op.drop_table("sim_submissions")
    op.drop_table("sim_outcomes")
    op.drop_table("orphan_receipts")
    op.drop_table("accounts")
