"""repair rows stored before the input boundary

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-01 15:00:00

Before the boundary, a message's metadata could hold what a later read cannot answer with
(unpaired surrogates, NaN, nesting hundreds deep), and on SQLite a text could hold NUL. Such a
row made GET /messages/{id} and every search page that included it fail. Metadata that can be
repaired (bad characters replaced by U+FFFD, non-finite numbers by null) is; what cannot be
read at all is replaced by a visible marker saying so. Texts have NUL replaced by U+FFFD.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from smsbridge.boundary import clean_text, json_problem, parse_json, repaired_json

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

_DEPTH = 64


def _repair(text: str) -> tuple[bool, Any]:
    """(whether the stored JSON text needs rewriting, the value to store instead)."""
    try:
        value = parse_json(text.encode("utf-8", "surrogatepass"))
    except ValueError:
        value = None
    else:
        if json_problem(value, max_depth=_DEPTH) is None:
            return False, value
    try:
        loose = json.loads(text)  # NaN and Infinity, which the strict reader refuses
    except (ValueError, RecursionError):
        return True, {"smsbridge_quarantined": "this metadata could not be read; it was removed"}
    fixed = repaired_json(loose, max_depth=_DEPTH)
    if json_problem(fixed, max_depth=_DEPTH) is not None:
        return True, {"smsbridge_quarantined": "this metadata could not be kept; it was removed"}
    return True, fixed


def upgrade() -> None:
    bind = op.get_bind()
    messages = sa.table("messages", sa.column("id", sa.String), sa.column("metadata", sa.Text))
    last = ""
    while True:
        # In pages by id, so a large table is never held in memory at once.
        rows = bind.execute(
            sa.select(messages.c.id, sa.cast(messages.c.metadata, sa.Text))
            .where(messages.c.metadata.is_not(None), messages.c.id > last)
            .order_by(messages.c.id)
            .limit(1000)
        ).all()
        if not rows:
            break
        last = rows[-1][0]
        for message_id, text in rows:
            changed, value = _repair(text) if text is not None else (False, None)
            if changed:
                bind.execute(
                    sa.text("UPDATE messages SET metadata = :value WHERE id = :id").bindparams(
                        sa.bindparam("value", type_=sa.JSON)
                    ),
                    {"value": value, "id": message_id},
                )
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL never stored a NUL in a text column: it refuses them
    for table, columns in (
        ("messages", ("content", "tag", "failure_detail")),
        ("inbound_messages", ("content", "sender")),
    ):
        for column in columns:
            found = bind.execute(
                sa.text(f"SELECT id, {column} FROM {table} WHERE instr({column}, char(0)) > 0")
            ).all()
            for row_id, value in found:
                bind.execute(
                    sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
                    {"value": clean_text(value), "id": row_id},
                )


def downgrade() -> None:
    pass  # a repair is not undone
