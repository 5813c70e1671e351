"""A linear-time RFC 5322 address-list parser for hostile headers (pure, no I/O).

Why not the standard library: `email.headerregistry` (policy.default) re-parses a header on
every access and is quadratic on folded quoted strings (a 108 KB From header took minutes),
and recurses on nested comments and groups (RecursionError on a few hundred parentheses);
`email.utils.getaddresses` quietly turns two mailboxes, a group or a broken address into "the"
address. Here every character is looked at a bounded number of times, nesting is a counter,
never recursion, and what is ambiguous is reported, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header

# Nested comments deeper than this are not mail: RFC 5322 allows nesting, nobody uses more
# than two or three levels.
MAX_COMMENT_DEPTH = 20
# An address header naming more mailboxes than this is refused rather than walked.
MAX_MAILBOXES = 100

_ATEXT_SPECIALS = frozenset('()<>[]:;@\\,."')
# Something that reads as an address in a display name: "alice@acme.example".
_LOOKS_LIKE_ADDRESS = re.compile(r"[^\s<>\"@]+@[^\s<>\"@]+\.[^\s<>\"@]+")


@dataclass(frozen=True)
class Mailbox:
    display_name: str  # decoded (RFC 2047), may be empty
    local: str
    domain: str

    @property
    def address(self) -> str:
        return f"{self.local}@{self.domain}"


@dataclass(frozen=True)
class AddressList:
    mailboxes: list[Mailbox] = field(default_factory=list)
    groups: int = 0  # how many "name: ...;" groups the header held
    problems: list[str] = field(default_factory=list)  # why some of it could not be read


@dataclass(frozen=True)
class _Token:
    kind: str  # "atom", "quoted", "literal", or a special character itself
    text: str
    spaced: bool = False  # whitespace or a comment came before it (display names keep it)


class _Unreadable(Exception):
    pass


def _tokenize(value: str) -> list[_Token]:
    """Atoms, quoted strings, domain literals and specials; comments and spaces dropped.
    Each character is visited once."""
    tokens: list[_Token] = []
    i, n = 0, len(value)
    spaced = False
    while i < n:
        char = value[i]
        if char not in " \t\r\n(":
            spaced_now, spaced = spaced, False
        if char in " \t\r\n":
            spaced = True
            i += 1
        elif char == "(":
            spaced = True
            depth = 0
            while i < n:
                c = value[i]
                if c == "\\":
                    i += 2
                    continue
                if c == "(":
                    depth += 1
                    if depth > MAX_COMMENT_DEPTH:
                        raise _Unreadable(f"comments nested more than {MAX_COMMENT_DEPTH} deep")
                elif c == ")":
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                i += 1
            else:
                raise _Unreadable("a comment is not closed")
        elif char == '"':
            out: list[str] = []
            i += 1
            while i < n and value[i] != '"':
                if value[i] == "\\" and i + 1 < n:
                    i += 1
                if value[i] not in "\r\n":
                    out.append(value[i])
                i += 1
            if i >= n:
                raise _Unreadable("a quoted string is not closed")
            i += 1
            tokens.append(_Token("quoted", "".join(out), spaced_now))
        elif char == "[":
            end = value.find("]", i)
            if end == -1:
                raise _Unreadable("a domain literal is not closed")
            tokens.append(_Token("literal", value[i : end + 1], spaced_now))
            i = end + 1
        elif char in _ATEXT_SPECIALS:
            if char == ")" or char == "]":
                raise _Unreadable(f"an unexpected {char!r}")
            tokens.append(_Token(char, char, spaced_now))
            i += 1
        else:
            start = i
            while i < n and value[i] not in _ATEXT_SPECIALS and value[i] not in " \t\r\n":
                i += 1
            tokens.append(_Token("atom", value[start:i], spaced_now))
    return tokens


def decode_words(text: str) -> str:
    """RFC 2047 encoded words decoded; undecodable input left as it is."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:
        # Unknown charsets and broken encodings (LookupError, UnicodeError, binascii.Error,
        # HeaderParseError...): the words stay encoded, which is still readable text.
        return text


def _phrase(tokens: list[_Token]) -> str:
    # Decoded as a whole, so adjacent encoded words join as RFC 2047 says.
    text = "".join((" " if t.spaced else "") + t.text for t in tokens)
    return decode_words(text).strip()


def _addr_spec(tokens: list[_Token]) -> tuple[str, str] | None:
    """local@domain from the tokens inside <> (or a bare address); None if it is not one."""
    if "@" not in [t.kind for t in tokens]:
        return None
    # An obsolete source route (<@a,@b:user@c>) is dropped up to its colon.
    if ":" in [t.kind for t in tokens]:
        last_colon = max(i for i, t in enumerate(tokens) if t.kind == ":")
        tokens = tokens[last_colon + 1 :]
        if "@" not in [t.kind for t in tokens]:
            return None
    at = max(i for i, t in enumerate(tokens) if t.kind == "@")
    local_tokens, domain_tokens = tokens[:at], tokens[at + 1 :]
    if not local_tokens or not domain_tokens:
        return None
    if any(t.kind not in ("atom", "quoted", ".") for t in local_tokens):
        return None
    local = "".join(t.text for t in local_tokens)
    if len(domain_tokens) == 1 and domain_tokens[0].kind == "literal":
        domain = domain_tokens[0].text
    else:
        if any(t.kind not in ("atom", ".") for t in domain_tokens):
            return None
        domain = "".join(t.text for t in domain_tokens)
        labels = domain.split(".")
        if any(not label for label in labels):
            return None
    if not local or any(c in local for c in "\r\n\x00"):
        return None
    return local, domain


def _mailbox(tokens: list[_Token]) -> Mailbox | None:
    angles = [i for i, t in enumerate(tokens) if t.kind in "<>"]
    if not angles:
        spec = _addr_spec(tokens)
        return Mailbox("", *spec) if spec else None
    if (
        len(angles) != 2
        or tokens[angles[0]].kind != "<"
        or tokens[angles[1]].kind != ">"
        or angles[1] != len(tokens) - 1
    ):
        return None
    spec = _addr_spec(tokens[angles[0] + 1 : angles[1]])
    if spec is None:
        return None
    return Mailbox(_phrase(tokens[: angles[0]]), *spec)


def parse_address_list(value: str) -> AddressList:
    """Every mailbox of an address header (From, To, Cc, Reply-To), groups flattened."""
    try:
        tokens = _tokenize(value)
    except _Unreadable as exc:
        return AddressList(problems=[str(exc)])
    mailboxes: list[Mailbox] = []
    problems: list[str] = []
    groups = 0
    current: list[_Token] = []
    in_group = False
    in_angle = False
    # Whether `current` holds an "@" yet, kept as a flag so no token is looked at twice.
    has_at = False

    def flush() -> None:
        nonlocal has_at
        has_at = False
        if not current:
            return
        box = _mailbox(current)
        if box is None:
            problems.append("an address that cannot be read: " + _show(current))
        else:
            mailboxes.append(box)
        current.clear()

    for token in tokens:
        kind = token.kind
        if kind == "<":
            in_angle = True
        elif kind == ">":
            in_angle = False
        if in_angle:
            current.append(token)
            continue
        if kind == ":" and not in_group and not has_at:
            # "name:" opens a group; its phrase is not an address.
            groups += 1
            in_group = True
            current.clear()
        elif kind == ";" and in_group:
            flush()
            in_group = False
        elif kind == ",":
            flush()
        else:
            has_at = has_at or kind == "@"
            current.append(token)
        if len(mailboxes) > MAX_MAILBOXES:
            return AddressList(mailboxes[:MAX_MAILBOXES], groups, ["too many addresses"])
    if in_angle:
        problems.append("a '<' is not closed")
    if in_group:
        problems.append("a group is not closed with ';'")
    flush()
    return AddressList(mailboxes, groups, problems)


def single_author(values: list[str]) -> tuple[Mailbox | None, str | None]:
    """The one author of an email from its From header(s), or the reason there is not one.

    Refused: no From, two From headers, a group, two mailboxes, anything unreadable, and a
    display name that reads as an address other than the mailbox's own ("alice@acme.example"
    <mallory@evil.example>): people and mail clients show the name, so it would fool them.
    """
    if not values:
        return None, "The email has no From address."
    if len(values) > 1:
        return None, "The email has more than one From header, so its author is ambiguous."
    parsed = parse_address_list(values[0])
    if parsed.problems:
        return None, f"The From header cannot be read ({parsed.problems[0]})."
    if parsed.groups:
        return None, "The From header holds a group, not one author."
    if len(parsed.mailboxes) != 1:
        if not parsed.mailboxes:
            return None, "The email has no usable From address."
        return None, "The From header names more than one author."
    author = parsed.mailboxes[0]
    for found in _LOOKS_LIKE_ADDRESS.findall(author.display_name):
        if found.strip(".,;:'()").lower() != author.address.lower():
            return None, "The From header's display name is an address other than its own."
    return author, None


def _show(tokens: list[_Token]) -> str:
    text = " ".join(t.text for t in tokens)
    return text if len(text) <= 60 else text[:57] + "..."
