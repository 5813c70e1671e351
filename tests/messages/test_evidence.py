"""Matching receipts with no known id to in-doubt messages (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from smsbridge.messages.evidence import (
    DoubtfulMessage,
    LooseReceipt,
    agrees,
    pairs,
    text_agrees,
)

T = datetime.now(UTC).replace(microsecond=0)
TO = "+447700900123"


def doubt(message_id: str = "m1", content: str = "Your table is booked", at=T, to=TO):
    return DoubtfulMessage(message_id, to, content, at)


def receipt(ref: str = "r1", text: str | None = "Your table is booked", **fields):
    values = {
        "destination": TO,
        "submitted_at": T.replace(second=0),
        "received_at": T + timedelta(seconds=5),
    }
    values.update(fields)
    return LooseReceipt(
        ref, values["destination"], values["submitted_at"], text, values["received_at"]
    )


def test_text_agrees_with_the_start_and_with_what_ascii_lacks():
    assert text_agrees("Your table is", "Your table is booked")
    assert text_agrees("Caf? at 8", "Café at 8")
    assert text_agrees("Hi?there", "Hi\nthere")
    assert not text_agrees("Your chair", "Your table is booked")
    assert not text_agrees("", "x")


def test_agrees_needs_the_handset_and_more_evidence():
    assert agrees(doubt(), receipt())
    assert not agrees(doubt(), receipt(destination="+447700900999"))
    assert not agrees(doubt(), receipt(received_at=T - timedelta(minutes=1)))
    assert not agrees(doubt(), receipt(submitted_at=T - timedelta(minutes=10)))
    assert not agrees(doubt(), receipt(text="Something else"))
    assert agrees(doubt(), receipt(text=None))  # the submit time alone
    assert not agrees(doubt(), receipt(text=None, submitted_at=None))  # the handset alone


def test_pairs_only_what_picks_out_each_other_and_has_settled():
    now = T + timedelta(seconds=10)
    assert pairs([doubt()], [receipt()], now) == [("m1", "r1")]
    assert pairs([doubt()], [receipt(received_at=now)], now) == []  # too fresh
    # Two messages to one handset with the same text, one receipt: nobody can tell.
    assert pairs([doubt("m1"), doubt("m2")], [receipt()], now) == []
    # One message, two receipts: neither.
    assert pairs([doubt()], [receipt("r1"), receipt("r2")], now) == []
    # The text tells them apart.
    both = pairs(
        [doubt("m1", "Your table is booked"), doubt("m2", "Your order has shipped")],
        [receipt("r1", "Your order has"), receipt("r2", "Your table")],
        now,
    )
    assert sorted(both) == [("m1", "r2"), ("m2", "r1")]
