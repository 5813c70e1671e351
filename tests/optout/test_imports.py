"""Reading an opt-out list (pure): every wrong line named with its reason, good lines once."""

from __future__ import annotations

from smsbridge.optout.imports import ANY_NUMBER, MAX_LINES, parse_lines

HELD = {"+447700900001"}


def test_numbers_in_any_common_form_with_or_without_a_reply_number() -> None:
    entries, problems = parse_lines(
        [
            "number,replynumber",
            "447700900123",
            "+44 7700 900124, 447700900001",
            "07700900125;*",
            "",
            "# a comment",
            "447700900123",  # again: kept once
            "447700900126\tall",
        ],
        "GB",
        HELD,
    )
    assert problems == []
    assert [(e.line, e.customer, e.reply_number) for e in entries] == [
        (2, "+447700900123", ANY_NUMBER),
        (3, "+447700900124", "+447700900001"),
        (4, "+447700900125", ANY_NUMBER),
        (8, "+447700900126", ANY_NUMBER),
    ]


def test_each_bad_line_is_reported_with_its_reason() -> None:
    _entries, problems = parse_lines(
        [
            "447700900123",
            "hello",
            "447700900124,447700900999",
            "447700900125,not-a-number",
            "1,2,3",
            "12",
        ],
        "GB",
        HELD,
    )
    assert [(p.line, p.reason.split(":")[0]) for p in problems] == [
        (2, "not a phone number"),
        (3, "+447700900999 is not a Reply Number you hold"),
        (4, "'not-a-number' is not a phone number"),
        (5, "more than two columns (number, reply number)"),
        (6, "not a phone number"),
    ]
    assert problems[0].as_detail() == {"line": 2, "value": "hello", "reason": problems[0].reason}


def test_a_header_is_skipped_only_on_the_first_line() -> None:
    entries, problems = parse_lines(["customer", "447700900123"], "GB", HELD)
    assert len(entries) == 1 and problems == []
    _entries, problems = parse_lines(["447700900123", "customer"], "GB", HELD)
    assert [p.line for p in problems] == [2]


def test_too_long_a_list_is_refused_whole() -> None:
    entries, problems = parse_lines(["447700900123"] * (MAX_LINES + 1), "GB", HELD)
    assert entries == [] and len(problems) == 1
