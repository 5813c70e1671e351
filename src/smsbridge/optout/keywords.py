"""Opt-out keywords and automatic reply texts (pure): what an inbound SMS means, what we answer.

An inbound SMS is a keyword only when, after trimming surrounding white space and ignoring case,
it *is* one of the configured words: "stop please", "STOP!!" and "Stopp" are ordinary replies.
Matching is deliberately that strict: a false opt-out silences a customer who wanted to talk,
and the providers our users come from behave the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from smsbridge.boundary import text_problem


class KeywordClass(StrEnum):
    OPT_OUT = "optout"
    OPT_IN = "optin"
    HELP = "help"


class Scope(StrEnum):
    """What an opt-out covers: the pair (customer, Reply Number) or every sender of the account."""

    PAIR = "pair"
    ACCOUNT = "account"


# {language: {"optout": [...], "optin": [...], "help": [...]}}, the first language the default.
KeywordLists = Mapping[str, Mapping[str, Sequence[str]]]

MAX_KEYWORD_LENGTH = 30
MAX_KEYWORDS = 50  # per class and language
MAX_LANGUAGES = 20
MAX_TEXT_LENGTH = 480  # three GSM-7 segments: a confirmation must stay cheap
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")

# What the account did not write itself. Each names the account and says how to opt back in
# (PECR and the carriers' codes of practice ask for both).
DEFAULT_TEXTS: Mapping[KeywordClass, str] = {
    KeywordClass.OPT_OUT: (
        "{account}: you have opted out and will get no more messages from {scope}. "
        "Reply {optin} to opt back in."
    ),
    KeywordClass.OPT_IN: (
        "{account}: you have opted back in and will get messages from {scope} again. "
        "Reply {optout} to opt out."
    ),
    KeywordClass.HELP: (
        "{account}: you get messages from {scope}. Reply {optout} to opt out, {optin} to opt "
        "back in."
    ),
}
_PLACEHOLDER = re.compile(r"\{(account|scope|optin|optout|help)\}")


class KeywordProblem(ValueError):
    """A keyword list or text an account (or operator) gave that cannot be used; says why."""


@dataclass(frozen=True)
class Match:
    kind: KeywordClass
    keyword: str  # as configured (upper case), e.g. "STOP"
    language: str


def normalise(text: str) -> str:
    """What a text is compared as: without surrounding white space, case folded."""
    return text.strip().casefold()


def recognise(text: str, lists: KeywordLists) -> Match | None:
    """The keyword `text` is exactly, or None (an ordinary reply)."""
    wanted = normalise(text)
    if not wanted:
        return None
    for language, classes in lists.items():
        for kind in KeywordClass:
            for keyword in classes.get(kind.value, ()):
                if normalise(keyword) == wanted:
                    return Match(kind, keyword.strip().upper(), language)
    return None


def check_keyword_lists(raw: Any) -> dict[str, dict[str, list[str]]]:
    """Validate keyword lists as an account or operator wrote them, or raise KeywordProblem.

    Every language needs an opt-out and an opt-in word (a confirmation must say how to come
    back); a word may not mean two things, in one language or across them, because the
    customer's intent would then be a guess.
    """
    if not isinstance(raw, Mapping) or not raw:
        raise KeywordProblem('Give at least one language, e.g. {"en": {"optout": [...]}}.')
    if len(raw) > MAX_LANGUAGES:
        raise KeywordProblem(f"At most {MAX_LANGUAGES} languages.")
    meaning: dict[str, tuple[KeywordClass, str]] = {}
    checked: dict[str, dict[str, list[str]]] = {}
    for language, classes in raw.items():
        if not isinstance(language, str) or not _LANGUAGE.match(language):
            raise KeywordProblem(f"'{language}' is not a language code such as en or pt-br.")
        if not isinstance(classes, Mapping):
            raise KeywordProblem(f"{language}: give optout, optin and help lists.")
        unknown = set(classes) - {k.value for k in KeywordClass}
        if unknown:
            raise KeywordProblem(
                f"{language}: {', '.join(sorted(map(str, unknown)))} is not optout, optin or help."
            )
        checked[language] = {}
        for kind in KeywordClass:
            words = classes.get(kind.value, [])
            if not isinstance(words, Sequence) or isinstance(words, str):
                raise KeywordProblem(f"{language}.{kind.value} must be a list of words.")
            if len(words) > MAX_KEYWORDS:
                raise KeywordProblem(f"{language}.{kind.value}: at most {MAX_KEYWORDS} words.")
            clean: list[str] = []
            for word in words:
                keyword = _check_word(word, f"{language}.{kind.value}")
                seen = meaning.get(normalise(keyword))
                if seen is not None and seen[0] != kind:
                    raise KeywordProblem(
                        f"'{keyword}' is both {seen[0].value} ({seen[1]}) and {kind.value} "
                        f"({language}); a word can mean one thing only."
                    )
                meaning[normalise(keyword)] = (kind, language)
                if keyword not in clean:
                    clean.append(keyword)
            checked[language][kind.value] = clean
        for needed in (KeywordClass.OPT_OUT, KeywordClass.OPT_IN):
            if not checked[language][needed.value]:
                raise KeywordProblem(f"{language} needs at least one {needed.value} keyword.")
    return checked


def _check_word(word: Any, where: str) -> str:
    if not isinstance(word, str):
        raise KeywordProblem(f"{where}: every keyword is text.")
    keyword = word.strip().upper()
    if not keyword or len(keyword) > MAX_KEYWORD_LENGTH:
        raise KeywordProblem(f"{where}: a keyword is 1 to {MAX_KEYWORD_LENGTH} characters.")
    # One word of letters and digits: a customer types it alone, and "STOP ALL" with a
    # space would only ever be matched by luck.
    if not keyword.isalnum():
        raise KeywordProblem(f"{where}: '{keyword}' must be one word of letters and digits.")
    return keyword


def check_text(text: Any, where: str) -> str:
    """An automatic reply text an account wrote, or KeywordProblem."""
    if not isinstance(text, str) or not text.strip():
        raise KeywordProblem(f"The {where} text is empty.")
    clean = text.strip()
    if len(clean) > MAX_TEXT_LENGTH:
        raise KeywordProblem(
            f"The {where} text is {len(clean)} characters; the most is {MAX_TEXT_LENGTH}."
        )
    problem = text_problem(clean)
    if problem is not None:
        raise KeywordProblem(f"The {where} text holds {problem}.")
    return clean


def reply_text(
    kind: KeywordClass,
    language: str,
    *,
    account_name: str,
    scope: Scope,
    lists: KeywordLists,
    texts: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """The automatic SMS answering `kind`: the account's text for the language (else for its
    default language), else the built-in one, with {account}, {scope}, {optin}, {optout} and
    {help} filled in."""
    own = (texts or {}).get(kind.value) or {}
    default_language = next(iter(lists), language)
    template = own.get(language) or own.get(default_language) or DEFAULT_TEXTS[kind]
    words = lists.get(language) or lists.get(default_language) or {}
    values = {
        "account": account_name.strip() or "This service",
        "scope": "this number" if scope == Scope.PAIR else account_name.strip() or "us",
        "optin": _first(words, KeywordClass.OPT_IN, "START"),
        "optout": _first(words, KeywordClass.OPT_OUT, "STOP"),
        "help": _first(words, KeywordClass.HELP, "HELP"),
    }
    # Only the known placeholders are replaced: an account's text is never a format string.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _first(words: Mapping[str, Sequence[str]], kind: KeywordClass, fallback: str) -> str:
    found = list(words.get(kind.value, ()))
    return found[0].strip().upper() if found else fallback
