"""The one table of error codes: every code the source raises is in it, with the status it is
raised with, and docs/api.md lists every entry with its number."""

from __future__ import annotations

import ast
from pathlib import Path

from smsbridge.errors import ERROR_CODES, error_code, find_error_code

SRC = Path(__file__).resolve().parents[1] / "src" / "smsbridge"
API_DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
# Constructors whose status is fixed by the class.
FIXED = {"Invalid": 400, "NotFound": 404}


def raised_codes() -> list[tuple[str, str, int | None]]:
    """(where, code, status) of every error constructed with a literal code in the source."""
    found: list[tuple[str, str, int | None]] = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            args = node.args
            if name in FIXED and args and isinstance(args[0], ast.Constant):
                found.append((f"{path.name}:{node.lineno}", str(args[0].value), FIXED[name]))
            elif (
                name in ("ServiceError", "__init__")
                and len(args) >= 2
                and isinstance(args[1], ast.Constant)
                and isinstance(args[1].value, str)
            ):
                status = args[0].value if isinstance(args[0], ast.Constant) else None
                found.append((f"{path.name}:{node.lineno}", args[1].value, status))  # type: ignore[arg-type]
    return found


def test_every_raised_code_is_in_the_table_with_its_status() -> None:
    found = raised_codes()
    assert len(found) > 50  # the scan sees the source
    for where, code, status in found:
        assert code in ERROR_CODES, f"{where}: {code} is not in smsbridge.errors.ERROR_CODES"
        if status is not None:
            assert ERROR_CODES[code].http_status == status, (where, code, status)


def test_numbers_are_unique_and_grouped() -> None:
    numbers = [entry.number for entry in ERROR_CODES.values()]
    assert len(numbers) == len(set(numbers))
    assert all(1000 <= n < 10000 for n in numbers)
    assert find_error_code("3000") is ERROR_CODES["INSUFFICIENT_CREDIT"]
    assert find_error_code("insufficient_credit") is ERROR_CODES["INSUFFICIENT_CREDIT"]
    assert find_error_code("31337") is None
    # An unlisted code (a bug) is never given a made-up number.
    assert error_code("NOT_A_CODE") is ERROR_CODES["INTERNAL_ERROR"]


def test_the_api_document_lists_every_code_with_its_number() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    for entry in ERROR_CODES.values():
        assert f"`{entry.code}`" in text, f"{entry.code} is missing from docs/api.md"
        assert f"{entry.number}" in text, f"{entry.number} ({entry.code}) is missing"


def test_codes_are_looked_up_by_ascii_digits_only() -> None:
    # "³".isdigit() is True in Python, and int("³") raises: a lookup must not crash on it.
    assert find_error_code("³") is None
    assert find_error_code("٣٠٠٠") is None
