"""The SMS Works wire format: its JavaScript date strings both ways, and numbers as digits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from smsbridge.messages import wire

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The document's own examples.
        ("Sun Sep 03 2020 15:34:23 GMT+0100 (BST)", datetime(2020, 9, 3, 14, 34, 23, tzinfo=UTC)),
        ("Wed Jul 12 2017 20:26:28 GMT+0100 (BST)", datetime(2017, 7, 12, 19, 26, 28, tzinfo=UTC)),
        (
            "Tue Apr 25 2023 16:47:00 GMT+0100 (British Summer Time)",
            datetime(2023, 4, 25, 15, 47, tzinfo=UTC),
        ),
        ("2021-10-28T13:10:00.000Z", datetime(2021, 10, 28, 13, 10, tzinfo=UTC)),
        # Node's toString in other zones, and without the bracketed name.
        ("Mon Jan 06 2025 09:00:00 GMT-0500", datetime(2025, 1, 6, 14, 0, tzinfo=UTC)),
        ("Mon Jan 06 2025 09:00:00 GMT+05:30 (IST)", datetime(2025, 1, 6, 3, 30, tzinfo=UTC)),
        # toUTCString (RFC 7231) and ISO without a zone (UTC).
        ("Mon, 06 Jan 2025 09:00:00 GMT", datetime(2025, 1, 6, 9, 0, tzinfo=UTC)),
        ("2025-01-06T09:00:00", datetime(2025, 1, 6, 9, 0, tzinfo=UTC)),
        ("2025-01-06T09:00:00+02:00", datetime(2025, 1, 6, 7, 0, tzinfo=UTC)),
    ],
)
def test_dates_are_read_in_every_form_the_document_and_clients_use(
    text: str, expected: datetime
) -> None:
    assert wire.parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "tomorrow",
        "Sun Foo 03 2020 15:34:23 GMT+0100",
        "Sun Sep 31 2020 15:34:23 GMT+0100",  # no 31 September
        "Sun Sep 03 2020 25:34:23 GMT+0100",
        "Sun Sep 03 2020 15:34:23 GMT+2500",
        "2020-13-01T00:00:00Z",
        "x" * 500,
        "\ud800",
    ],
)
def test_what_is_not_a_date_is_refused(text: str) -> None:
    with pytest.raises(wire.BadDate):
        wire.parse_date(text)


def test_dates_are_written_as_javascript_prints_them_in_uk_time() -> None:
    summer = datetime(2017, 7, 19, 19, 53, 46, tzinfo=UTC)
    winter = datetime(2026, 12, 1, 9, 5, 7, tzinfo=UTC)
    assert wire.js_date(summer, LONDON) == "Wed Jul 19 2017 20:53:46 GMT+0100 (BST)"
    assert wire.js_date(winter, LONDON) == "Tue Dec 01 2026 09:05:07 GMT+0000 (GMT)"
    assert wire.js_date(None, LONDON) == ""


def test_a_written_date_reads_back_as_the_same_instant() -> None:
    start = datetime(2026, 3, 28, 23, 59, 59, tzinfo=UTC)  # the night the clocks go forward
    for hours in range(0, 48):
        when = start + timedelta(hours=hours)
        assert wire.parse_date(wire.js_date(when, LONDON)) == when
    eastern = datetime(2026, 6, 1, 12, 0, tzinfo=timezone(timedelta(hours=9)))
    assert wire.parse_date(wire.js_date(eastern, ZoneInfo("Asia/Tokyo"))) == eastern


def test_numbers_are_digits_without_plus() -> None:
    assert wire.digits("+447700900123") == "447700900123"
    assert wire.digits("Acme") == "Acme"
    assert wire.number_value("+447700900123") == 447700900123
    assert wire.number_value("Acme") == "Acme"
    assert wire.national_identifier("+447777777777") == "7777777777"
    assert wire.national_identifier("+33612345678") == "612345678"
