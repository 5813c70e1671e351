"""Read an opt-out list someone pastes or uploads (pure): each line checked, with its reason.

A line is `number` or `number,reply number` (comma, semicolon or tab); no reply number, `*` or
`all` means every sender of the account. Blank lines and lines starting with # are skipped, and
so is a first line that is a header. Nothing here decides whether to apply the list: the
service applies it only when no line has a problem, so an import never half happens.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection
from dataclasses import dataclass

from smsbridge.boundary import text_problem
from smsbridge.numbers.phone import InvalidNumber, normalise_number

ANY_NUMBER = "*"  # the reply_number of an entry covering every sender of the account
MAX_LINES = 10_000
_DELIMITER = re.compile(r"[,;\t]")
_EVERY = {"", "*", "all", "any"}


@dataclass(frozen=True)
class Entry:
    line: int
    customer: str  # E.164
    reply_number: str  # E.164 of a held Reply Number, or ANY_NUMBER


@dataclass(frozen=True)
class LineProblem:
    line: int
    value: str
    reason: str

    def as_detail(self) -> dict[str, object]:
        return {"line": self.line, "value": self.value, "reason": self.reason}


def parse_lines(
    lines: list[str], home_region: str, held_numbers: Collection[str]
) -> tuple[list[Entry], list[LineProblem]]:
    """Every entry the lines name, once each, and every line that is wrong and why."""
    entries: dict[tuple[str, str], Entry] = {}
    problems: list[LineProblem] = []
    if len(lines) > MAX_LINES:
        return [], [LineProblem(MAX_LINES + 1, "", f"at most {MAX_LINES} lines in one list")]
    columns = 2
    for index, raw in enumerate(lines, start=1):
        text = raw.strip().lstrip("\ufeff")
        if not text or text.startswith("#"):
            continue
        shown = text[:60]
        if text_problem(text) is not None:
            problems.append(
                LineProblem(
                    index,
                    shown.encode("ascii", "replace").decode(),
                    "holds characters that are not text",
                )
            )
            continue
        cells = _cells(text)
        if index == 1 and not any(ch.isdigit() for ch in cells[0]):
            # A header such as "number,replynumber": the columns it names beyond those two
            # (our own export's audit columns) are allowed and ignored.
            columns = max(2, len(cells))
            continue
        if len(cells) > columns:
            problems.append(
                LineProblem(index, shown, "more than two columns (number, reply number)")
            )
            continue
        try:
            customer = normalise_number(cells[0], home_region, require_mobile=False).e164
        except InvalidNumber as exc:
            problems.append(LineProblem(index, shown, f"not a phone number: {exc}"))
            continue
        sender = cells[1] if len(cells) >= 2 else ""
        if sender.lower() in _EVERY:
            reply_number = ANY_NUMBER
        else:
            try:
                reply_number = normalise_number(sender, home_region, require_mobile=False).e164
            except InvalidNumber:
                problems.append(LineProblem(index, shown, f"'{sender[:30]}' is not a phone number"))
                continue
            if reply_number not in held_numbers:
                problems.append(
                    LineProblem(index, shown, f"{reply_number} is not a Reply Number you hold")
                )
                continue
        entries.setdefault((customer, reply_number), Entry(index, customer, reply_number))
    return list(entries.values()), problems


def _cells(text: str) -> list[str]:
    """The cells of one line, split on its first comma, semicolon or tab, quotes honoured."""
    found = _DELIMITER.search(text)
    if found is None:
        return [text.strip()]
    row = next(csv.reader([text], delimiter=found.group(0)), [""])
    return [cell.strip() for cell in row] or [""]
