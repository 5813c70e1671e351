"""The input boundary (pure): what text and JSON the database, the carrier and a later read can
hold, checked once where input arrives, and repaired where refusing is not an option.

Refused: unpaired surrogates (they cannot be encoded as UTF-8, so storing or answering them
fails later), NUL and the other control characters except tab, line feed and carriage return,
NaN and infinities, integers a JSON reader in another language would round (beyond 2**53),
nesting deeper than a limit. Python's json module accepts all of these, which is why a request
that parsed is not yet a request we can keep.

Repaired, never refused: what a carrier delivered to us or what is already stored, since
refusing it would lose it: bad characters become U+FFFD.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

REPLACEMENT = "\ufffd"
# Beyond this, a JSON number in JavaScript (and most generated clients) is no longer exact.
MAX_SAFE_INTEGER = 2**53 - 1

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 controls but tab, line feed and carriage return; DEL; C1 controls.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BAD = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Problem:
    """What is wrong and where: `path` is the field, dotted (messages.3.metadata.note)."""

    path: str
    reason: str
    code: str = "INVALID_TEXT"


def text_problem(value: str) -> str | None:
    """Why `value` cannot be kept as text, or None."""
    match = _BAD.search(value)
    if match is None:
        return None
    char = match.group()
    if _SURROGATE.match(char):
        return f"an unpaired surrogate (\\u{ord(char):04x}), which is not a character"
    if char == "\x00":
        return "a NUL character"
    return f"a control character (U+{ord(char):04X})"


def clean_text(value: str) -> str:
    """`value` with every character we cannot keep replaced by U+FFFD."""
    return _BAD.sub(REPLACEMENT, value) if _BAD.search(value) else value


def json_problem(
    value: Any,
    *,
    path: str = "",
    max_depth: int,
    check_integers: bool = False,
) -> Problem | None:
    """The first thing in a parsed JSON value that cannot be kept, walking iteratively (a
    deeply nested value must not exhaust the stack of the checker itself)."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > max_depth:
            return Problem(
                where or "the body", f"nests deeper than {max_depth} levels", "INVALID_FIELD"
            )
        if isinstance(item, str):
            reason = text_problem(item)
            if reason is not None:
                return Problem(where or "the body", f"holds {reason}")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if check_integers and abs(item) > MAX_SAFE_INTEGER:
                return Problem(
                    where,
                    f"holds {item}, beyond the integers JSON carries exactly (2^53)",
                    "INVALID_FIELD",
                )
        elif isinstance(item, float):
            if not math.isfinite(item):
                return Problem(where, "holds a number that is not finite", "INVALID_FIELD")
        elif isinstance(item, dict):
            for key, child in item.items():
                reason = text_problem(key)
                if reason is not None:
                    return Problem(where or "the body", f"has a key that holds {reason}")
                stack.append((child, f"{where}.{key}" if where else str(key), depth + 1))
        elif isinstance(item, list):
            stack.extend(
                (child, f"{where}.{index}" if where else str(index), depth + 1)
                for index, child in enumerate(item)
            )
    return None


def parse_json(raw: bytes) -> Any:
    """Strict JSON: UTF-8 only, no NaN or Infinity, and no number so large it overflows to
    infinity (1e400). Raises ValueError with a sentence."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8 (byte {exc.start})") from exc

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not a JSON number")

    def finite(text: str) -> float:
        number = float(text)
        if not math.isfinite(number):
            raise ValueError(f"{text[:20]} is too large for a number")
        return number

    try:
        return json.loads(text, parse_constant=constant, parse_float=finite)
    except RecursionError as exc:
        raise ValueError("the body nests too deeply") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc


def repaired_json(value: Any, *, max_depth: int = 64) -> Any:
    """A stored JSON value made safe to answer with: bad text replaced, non-finite numbers
    and what nests too deep dropped (for reads of rows stored before the boundary existed)."""

    def walk(item: Any, depth: int) -> Any:
        if depth > max_depth:
            return None
        if isinstance(item, str):
            return clean_text(item)
        if isinstance(item, float) and not math.isfinite(item):
            return None
        if isinstance(item, dict):
            return {clean_text(str(k)): walk(v, depth + 1) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v, depth + 1) for v in item]
        return item

    if json_problem(value, max_depth=max_depth) is None:
        return value
    try:
        return walk(value, 0)
    except RecursionError:
        return None


def encoded_size(value: Any) -> int:
    """Bytes `value` takes as compact JSON (what we store and send back)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode("utf-8", "replace"))
