"""The input boundary, property by property: what it accepts can be stored and answered with,
what it repairs becomes acceptable, and what it refuses it names."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsbridge.boundary import (
    MAX_SAFE_INTEGER,
    clean_text,
    json_problem,
    parse_json,
    repaired_json,
    text_problem,
)

# Every code point, surrogates and controls included: what a hostile client can put in JSON.
any_text = st.text(alphabet=st.characters(codec=None, categories=None), max_size=50)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(any_text, children, max_size=5)
    ),
    max_leaves=30,
)


def answerable(value: Any) -> bool:
    """What a response can carry: strict JSON that encodes to UTF-8 and reads back equal."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
        return json.loads(text.encode("utf-8").decode("utf-8")) == value
    except (ValueError, UnicodeEncodeError):
        return False


@given(any_text)
def test_accepted_text_is_storable_and_clean_text_is_accepted(text: str) -> None:
    if text_problem(text) is None:
        text.encode("utf-8")  # never raises: no surrogates
        assert "\x00" not in text
        assert clean_text(text) == text
    cleaned = clean_text(text)
    assert text_problem(cleaned) is None
    assert len(cleaned) == len(text)  # one replacement per bad character, nothing lost


@given(json_values)
@settings(max_examples=300)
def test_accepted_json_can_always_be_answered_with(value: Any) -> None:
    if json_problem(value, max_depth=10, check_integers=True) is None:
        assert answerable(value)


@given(json_values)
@settings(max_examples=300)
def test_repaired_json_is_always_accepted(value: Any) -> None:
    fixed = repaired_json(value, max_depth=10)
    assert json_problem(fixed, max_depth=10) is None
    assert answerable(fixed) or _has_unsafe_int(fixed)


def _has_unsafe_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) > MAX_SAFE_INTEGER
    if isinstance(value, list):
        return any(_has_unsafe_int(v) for v in value)
    if isinstance(value, dict):
        return any(_has_unsafe_int(v) for v in value.values())
    return False


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b'{"a": NaN}', "NaN"),
        (b'{"a": -Infinity}', "Infinity"),
        (b'{"a": 1e400}', "too large"),
        (b'{"a": "\xff"}', "not UTF-8"),
        (b'{"a": ', "Expecting value"),
        (b"[" * 100_000 + b"]" * 100_000, "nests too deeply"),
    ],
)
def test_strict_json_refuses_what_pythons_reader_lets_through(body: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_json(body)


def test_the_first_problem_is_named_with_its_path() -> None:
    problem = json_problem({"messages": [{"ok": "x"}, {"tag": "a\ud800"}]}, max_depth=10)
    assert problem is not None
    assert problem.path == "messages.1.tag"
    assert "unpaired surrogate" in problem.reason
    deep: Any = "x"
    for _ in range(300):
        deep = {"d": deep}
    too_deep = json_problem(deep, max_depth=32)
    assert too_deep is not None and "deeper than 32" in too_deep.reason
    big = json_problem({"n": 2**63}, max_depth=5, check_integers=True)
    assert big is not None and big.path == "n"
    assert json_problem({"n": 2**53 - 1, "f": 1.5, "t": "tab\tok\n"}, max_depth=5) is None
    assert json_problem({"f": math.inf}, max_depth=5) is not None


def test_checking_a_deep_value_does_not_use_the_stack() -> None:
    deep: Any = []
    for _ in range(sys.getrecursionlimit() * 3):
        deep = [deep]
    assert json_problem(deep, max_depth=10) is not None
