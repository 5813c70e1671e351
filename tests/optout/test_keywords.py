"""Keyword matching and reply texts (pure): exact after trimming and case, nothing looser."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smsbridge.optout.keywords import (
    DEFAULT_TEXTS,
    KeywordClass,
    KeywordProblem,
    Scope,
    check_keyword_lists,
    check_text,
    recognise,
    reply_text,
)
from smsbridge.settings import OptOutSettings

LISTS = check_keyword_lists(OptOutSettings().keywords)
EVERY_WORD = [(w, KeywordClass(kind)) for kind, words in LISTS["en"].items() for w in words]
SPACE = st.text(alphabet=" \t\r\n\u00a0\u2003", max_size=4)


@given(
    st.sampled_from(EVERY_WORD),
    SPACE,
    SPACE,
    st.lists(st.booleans(), min_size=12, max_size=12),
)
def test_every_keyword_matches_in_any_case_with_any_surrounding_space(
    word_kind: tuple[str, KeywordClass], before: str, after: str, upper: list[bool]
) -> None:
    word, kind = word_kind
    cased = "".join(c.upper() if u else c.lower() for c, u in zip(word, upper * 3, strict=False))
    match = recognise(before + cased + after, LISTS)
    assert match is not None
    assert (match.kind, match.keyword, match.language) == (kind, word, "en")


@given(
    st.sampled_from(EVERY_WORD),
    st.text(min_size=1, max_size=10).filter(lambda t: t.strip() != ""),
)
def test_a_keyword_with_anything_else_is_an_ordinary_reply(
    word_kind: tuple[str, KeywordClass], extra: str
) -> None:
    word, _kind = word_kind
    text = word + extra
    if recognise(text, LISTS) is not None:
        # Only another keyword can match ("STOP" + "ALL" is STOPALL).
        assert text.strip().upper() in {w for w, _k in EVERY_WORD}
    else:
        assert recognise(extra + " " + word, LISTS) is None


@pytest.mark.parametrize(
    "text", ["stop please", "STOP!!", "Stopp", "S T O P", "stop.", "", "   ", "don't stop", "st0p"]
)
def test_near_misses_are_not_keywords(text: str) -> None:
    assert recognise(text, LISTS) is None


def test_the_default_lists_are_the_providers_words() -> None:
    assert LISTS["en"]["optout"] == [
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        "CANCEL",
    ]
    assert LISTS["en"]["optin"] == ["START", "YES", "UNSTOP"]
    assert LISTS["en"]["help"] == ["HELP", "INFO"]


@pytest.mark.parametrize(
    ("lists", "why"),
    [
        ({}, "at least one language"),
        ({"english": {"optout": ["STOP"], "optin": ["START"]}}, "language code"),
        ({"en": {"optout": ["STOP"]}}, "optin"),
        ({"en": {"optout": ["STOP"], "optin": ["STOP"]}}, "one thing only"),
        (
            {
                "en": {"optout": ["STOP"], "optin": ["START"]},
                "fr": {"optout": ["A"], "optin": ["stop"]},
            },
            "one thing only",
        ),
        ({"en": {"optout": ["STOP ALL"], "optin": ["START"]}}, "one word"),
        ({"en": {"optout": ["STOP!"], "optin": ["START"]}}, "one word"),
        ({"en": {"optout": [""], "optin": ["START"]}}, "1 to 30"),
        ({"en": {"optout": "STOP", "optin": ["START"]}}, "list"),
        ({"en": {"unsubscribe": ["STOP"], "optin": ["START"]}}, "not optout"),
        ({"en": {"optout": [3], "optin": ["START"]}}, "text"),
    ],
)
def test_bad_keyword_lists_are_refused_with_a_reason(lists: object, why: str) -> None:
    with pytest.raises(KeywordProblem, match=why):
        check_keyword_lists(lists)


def test_languages_are_matched_in_order_and_words_kept_once() -> None:
    lists = check_keyword_lists(
        {
            "en": {"optout": ["stop", "STOP"], "optin": ["start"]},
            "fr": {"optout": ["arret", "stop"], "optin": ["demarrer"]},
        }
    )
    assert lists["en"]["optout"] == ["STOP"]
    match = recognise("Arret", lists)
    assert match is not None and (match.kind, match.language) == (KeywordClass.OPT_OUT, "fr")
    english = recognise("stop", lists)
    assert english is not None and english.language == "en"


def test_default_texts_name_the_account_and_say_how_to_opt_back_in() -> None:
    text = reply_text(
        KeywordClass.OPT_OUT, "en", account_name="Acme Ltd", scope=Scope.PAIR, lists=LISTS
    )
    assert text == (
        "Acme Ltd: you have opted out and will get no more messages from this number. "
        "Reply START to opt back in."
    )
    whole = reply_text(
        KeywordClass.OPT_OUT, "en", account_name="Acme Ltd", scope=Scope.ACCOUNT, lists=LISTS
    )
    assert "from Acme Ltd" in whole
    for kind in KeywordClass:
        assert "{account}" in DEFAULT_TEXTS[kind]


def test_own_texts_fall_back_to_the_default_language_and_are_never_format_strings() -> None:
    texts = {"help": {"en": "Call {account} on 0800 {0} {__class__} {optout}"}}
    text = reply_text(
        KeywordClass.HELP, "fr", account_name="Acme", scope=Scope.PAIR, lists=LISTS, texts=texts
    )
    assert text == "Call Acme on 0800 {0} {__class__} STOP"


def test_reply_texts_are_checked() -> None:
    assert check_text("  Hi  ", "optout") == "Hi"
    with pytest.raises(KeywordProblem, match="empty"):
        check_text(" ", "optout")
    with pytest.raises(KeywordProblem, match="480"):
        check_text("x" * 481, "optout")
    with pytest.raises(KeywordProblem):
        check_text("a\x00b", "optout")


def test_the_operators_lists_are_checked_when_settings_load() -> None:
    with pytest.raises(ValueError, match="one thing only"):
        OptOutSettings(keywords={"en": {"optout": ["STOP"], "optin": ["STOP"]}})
