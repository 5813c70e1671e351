"""Delivery receipt parsing (text and TLVs), status mapping and message id matching."""

from __future__ import annotations

import pytest

from smsbridge.carriers.smpp.pdu import DeliverSm, MessageState, NetworkErrorCode, Tlvs
from smsbridge.carriers.smpp.receipts import (
    ReceiptText,
    match_message_id,
    message_id_keys,
    normalise_message_id,
    parse_receipt,
    parse_receipt_text,
    receipt_from_deliver_sm,
    status_for_stat,
    status_for_state,
)
from smsbridge.messages.status import Status

# The example layout of SMPP 3.4 Appendix B, filled in.
SPEC_STYLE = (
    "id:0123456789 sub:001 dlvrd:001 submit date:2401011200 done date:2401011201 "
    "stat:DELIVRD err:000 text:Hello from smsbri"
)


def test_spec_layout() -> None:
    assert parse_receipt_text(SPEC_STYLE) == ReceiptText(
        id="0123456789",
        sub="001",
        dlvrd="001",
        submit_date="2401011200",
        done_date="2401011201",
        stat="DELIVRD",
        err="000",
        text="Hello from smsbri",
    )
    receipt = parse_receipt(SPEC_STYLE.encode("ascii"))
    assert receipt is not None
    assert receipt.message_id == "0123456789"
    assert receipt.status is Status.DELIVERED
    assert receipt.state == "DELIVRD"
    assert (receipt.error, receipt.error_code) == ("000", 0)
    assert receipt.submit_date == "2401011200"
    assert receipt.done_date == "2401011201"
    assert receipt.text == "Hello from smsbri"


@pytest.mark.parametrize(
    ("text", "message_id", "status", "excerpt"),
    [
        # Hex id, capitalised Text key (common on Logica/CMG-derived SMSCs).
        (
            "id:1A2B3C4D sub:001 dlvrd:000 submit date:2401011200 done date:2401021200 "
            "stat:EXPIRED err:000 Text:Your code is",
            "1A2B3C4D",
            Status.EXPIRED,
            "Your code is",
        ),
        # Decimal id, no text field at all.
        (
            "id:439041966 sub:001 dlvrd:001 submit date:2401011200 done date:2401011200 "
            "stat:DELIVRD err:0",
            "439041966",
            Status.DELIVERED,
            None,
        ),
        # Lower case keys and stat word.
        (
            "id:abc123 sub:001 dlvrd:000 submit date:2401011200 done date:2401011200 "
            "stat:undeliv err:001 text:",
            "abc123",
            Status.UNDELIVERABLE,
            None,
        ),
        # Upper case keys, underscores in the date keys, doubled spaces, fields missing.
        (
            "ID:77  SUBMIT_DATE:2401011200   DONE_DATE:2401011200  STAT:REJECTD  ERR:045",
            "77",
            Status.REJECTED,
            None,
        ),
        # Space after the colon; UUID-style id.
        (
            "id: 6f1c2d3e-aaaa-bbbb-cccc-0123456789ab stat: ENROUTE err: 000 text: hi there",
            "6f1c2d3e-aaaa-bbbb-cccc-0123456789ab",
            Status.SENT,
            "hi there",
        ),
        # The excerpt contains key-like words; they stay in the text.
        (
            "id:9 stat:DELIVRD err:000 text:stat:REJECTD id:1",
            "9",
            Status.DELIVERED,
            "stat:REJECTD id:1",
        ),
    ],
)
def test_real_world_variants(
    text: str, message_id: str, status: Status, excerpt: str | None
) -> None:
    receipt = parse_receipt(text.encode("latin-1"))
    assert receipt is not None
    assert receipt.message_id == message_id
    assert receipt.status is status
    assert receipt.text == excerpt


def test_missing_stat_is_unknown_and_missing_id_is_not_a_receipt() -> None:
    receipt = parse_receipt("id:42 sub:001 dlvrd:001")
    assert receipt is not None
    assert receipt.status is Status.UNKNOWN
    assert receipt.state is None
    assert parse_receipt("stat:DELIVRD err:000") is None
    assert parse_receipt("id: stat:DELIVRD") is None  # an empty id names nothing
    assert parse_receipt("") is None


def test_key_inside_a_word_is_not_a_key() -> None:
    fields = parse_receipt_text("msgid:5 id:6 xstat:FOO stat:DELIVRD")
    assert fields.id == "6"  # the first word only: "xstat:FOO" is neither key nor id
    assert fields.stat == "DELIVRD"


@pytest.mark.parametrize(
    ("stat", "status"),
    [
        ("DELIVRD", Status.DELIVERED),
        ("EXPIRED", Status.EXPIRED),
        ("DELETED", Status.DELETED),
        ("UNDELIV", Status.UNDELIVERABLE),
        ("ACCEPTD", Status.SENT),
        ("ENROUTE", Status.SENT),
        ("UNKNOWN", Status.UNKNOWN),
        ("REJECTD", Status.REJECTED),
        ("delivered", Status.DELIVERED),
        ("FAILED", Status.UNDELIVERABLE),
        ("SOMETHING", Status.UNKNOWN),
    ],
)
def test_stat_words(stat: str, status: Status) -> None:
    assert status_for_stat(stat) is status


def test_message_states() -> None:
    assert status_for_state(MessageState.DELIVERED) is Status.DELIVERED
    assert status_for_state(MessageState.UNDELIVERABLE) is Status.UNDELIVERABLE
    assert status_for_state(MessageState.ACCEPTED) is Status.SENT
    assert status_for_state(MessageState.REJECTED) is Status.REJECTED
    assert status_for_state(0) is None
    assert status_for_state(9) is None


def test_tlvs_win_over_the_text() -> None:
    tlvs = Tlvs(
        receipted_message_id="1a2b3c",
        message_state=MessageState.UNDELIVERABLE,
        network_error_code=NetworkErrorCode(3, 27),
    )
    receipt = parse_receipt(b"id:1715004 stat:DELIVRD err:000 text:hello", tlvs)
    assert receipt is not None
    assert receipt.message_id == "1a2b3c"
    assert receipt.status is Status.UNDELIVERABLE
    assert receipt.state == "UNDELIVERABLE"
    assert receipt.error == "000"
    assert receipt.error_code == 27
    assert receipt.network_error == NetworkErrorCode(3, 27)


def test_tlvs_alone_make_a_receipt() -> None:
    tlvs = Tlvs(receipted_message_id="77", message_state=MessageState.EXPIRED)
    receipt = parse_receipt(b"", tlvs)
    assert receipt is not None
    assert (receipt.message_id, receipt.status) == ("77", Status.EXPIRED)


def test_undefined_message_state_falls_back_to_stat() -> None:
    receipt = parse_receipt("id:5 stat:DELIVRD", Tlvs(message_state=9))
    assert receipt is not None
    assert receipt.status is Status.DELIVERED
    assert receipt.state == "DELIVRD"


def test_err_field_numbers() -> None:
    hex_err = parse_receipt("id:1 stat:UNDELIV err:0x45")
    assert hex_err is not None
    assert hex_err.error_code == 0x45
    odd = parse_receipt("id:1 stat:UNDELIV err:N/A")
    assert odd is not None
    assert (odd.error, odd.error_code) == ("N/A", None)


def test_ucs2_receipt_text() -> None:
    text = "id:99 stat:DELIVRD err:000 text:\u043f\u0440\u0438\u0432\u0435\u0442"
    receipt = parse_receipt(text.encode("utf-16-be"), data_coding=8)
    assert receipt is not None
    assert receipt.message_id == "99"
    assert receipt.text == "\u043f\u0440\u0438\u0432\u0435\u0442"


def test_receipt_from_deliver_sm() -> None:
    receipt_pdu = DeliverSm(
        source_addr="447700900123",
        destination_addr="Acme",
        esm_class=0x04,
        short_message=SPEC_STYLE.encode("ascii"),
    )
    receipt = receipt_from_deliver_sm(receipt_pdu)
    assert receipt is not None
    assert receipt.status is Status.DELIVERED
    # Some SMSCs put the text in message_payload instead of short_message.
    payload_pdu = DeliverSm(esm_class=0x04, tlvs=Tlvs(message_payload=b"id:5 stat:EXPIRED"))
    from_payload = receipt_from_deliver_sm(payload_pdu)
    assert from_payload is not None
    assert (from_payload.message_id, from_payload.status) == ("5", Status.EXPIRED)
    # A person texting receipt-like words is an inbound SMS, not a receipt.
    inbound = DeliverSm(esm_class=0x00, short_message=b"id:1 stat:DELIVRD")
    assert receipt_from_deliver_sm(inbound) is None


# -- message ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resp_id", "receipt_id"),
    [
        ("1a2b3c", str(int("1a2b3c", 16))),  # hex in submit_sm_resp, decimal in the receipt
        ("1A2B3C", str(int("1a2b3c", 16))),
        (str(int("1a2b3c", 16)), "1A2B3C"),  # and the other way round
        ("0001a2b3c", "1a2b3c"),  # zero padding
        ("000123", "123"),
        ("123456", str(0x123456)),  # all digits, but hex in the resp
        ("ffffffffffffffff", str(2**64 - 1)),
        (" 42 ", "42"),
        ("0", "00000000"),
        ("6f1c2d3e-aaaa-bbbb", "6f1c2d3e-aaaa-bbbb"),
    ],
)
def test_the_same_id_written_two_ways_matches(resp_id: str, receipt_id: str) -> None:
    stored = normalise_message_id(resp_id)
    assert stored in message_id_keys(receipt_id)
    assert match_message_id(receipt_id, {stored}) == stored


def test_normalise_message_id() -> None:
    assert normalise_message_id("0000ABCDEF") == "abcdef"
    assert normalise_message_id("000") == "0"
    assert normalise_message_id("  12 ") == "12"
    # Not a number: kept as written, case included.
    assert normalise_message_id("AbC-0012") == "AbC-0012"
    assert normalise_message_id("") == ""


def test_message_id_keys() -> None:
    assert message_id_keys("1a2b3c") == {"1a2b3c", "1715004"}
    assert message_id_keys("123") == {"123", "291", "7b"}
    assert message_id_keys("msg-1") == {"msg-1"}
    assert message_id_keys("") == frozenset()


def test_different_ids_do_not_match() -> None:
    assert match_message_id("1a2b3d", {"1a2b3c", "1715004"}) is None
    assert match_message_id("", {""}) is None


def test_exact_spelling_wins_and_ambiguity_refuses() -> None:
    # "123" could be decimal 123 (hex 7b) or hex 0x123 (decimal 291).
    assert match_message_id("123", {"123", "7b", "291"}) == "123"
    assert match_message_id("123", {"7b"}) == "7b"
    assert match_message_id("123", {"7b", "291"}) is None


def test_receipt_submit_dates_read_as_utc_with_the_smscs_offset() -> None:
    from datetime import UTC, datetime

    from smsbridge.carriers.smpp.carrier import receipt_time

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    assert receipt_time(now.strftime("%y%m%d%H%M")) == now
    assert receipt_time(now.strftime("%y%m%d%H%M%S")) == now
    local = now.replace(tzinfo=None)
    from datetime import timedelta

    written = (local + timedelta(hours=1)).strftime("%y%m%d%H%M")  # an SMSC on UTC+1
    assert receipt_time(written, 60) == now
    for junk in (None, "", "26130199", "2613019999", "abc"):
        assert receipt_time(junk) is None
