"""Reading a received email within bounds: header section, MIME tree, the text part (pure).

Everything here runs on bytes nobody here wrote, in the one worker that serves every account,
so each step is linear in the size of the email and bounded: the header section (size, fields,
folded lines), the MIME tree (containers, depth, parts) and a time budget across the steps.
What cannot be read within those bounds is not guessed at: the caller gets a `Problem` with a
stable code and a sentence for the writer, and records it as a refusal.

The standard library is used where it is linear: the MIME tree comes from its feed parser with
the compat32 policy (header values stay plain strings; no structured header parsing, which is
quadratic on folded quoted strings, see addresses.py), once the pre-scan has made sure nesting
cannot exhaust the stack (the feed parser recurses per level).
"""

from __future__ import annotations

import codecs
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value
from typing import Literal

from smsbridge.mail.addresses import Mailbox, decode_words, parse_address_list, single_author

# Problem codes (stable: stored in refusal reasons and shown by the API).
UNREADABLE = "UNREADABLE"
TOO_COMPLEX = "TOO_COMPLEX"
TOO_SLOW = "TOO_SLOW"
NOT_TEXT = "NOT_TEXT"
AMBIGUOUS_AUTHOR = "AMBIGUOUS_AUTHOR"

# A part whose own Content-Type is longer than this is not looked into: real ones are a few
# hundred bytes even with a long RFC 2231 file name, and parameter parsing is not linear.
_MAX_PART_HEADER = 2048
# The text handed to reply extraction: the writer's answer is at the top, and an SMS holds a
# few hundred characters, so the rest of a huge body is history or junk.
_MAX_TEXT_CHARS = 200_000
_MAX_HTML_CHARS = 1_000_000
_MAX_SUBJECT_CHARS = 300
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")
_CONTAINER = re.compile(rb"(?im)^content-type:[ \t]*(?:\r?\n[ \t]+)?(?:multipart|message)/")
_MESSAGE_ID = re.compile(r"<([^<>\s]{1,250})>")
# Characters that have no place in text meant for a phone: C0 and C1 controls (but tab and
# line breaks), lone surrogates, and unassigned or non-characters that only junk produces.
_ALLOWED_CONTROLS = frozenset("\t\n\r")


@dataclass(frozen=True)
class Limits:
    max_header_bytes: int = 128 * 1024
    max_fields: int = 500
    max_field_bytes: int = 32 * 1024
    max_lines_per_field: int = 500
    max_mime_depth: int = 10
    max_mime_parts: int = 100
    budget_seconds: float = 2.0


@dataclass(frozen=True)
class Problem:
    code: str
    reason: str  # a sentence for the writer and the account


@dataclass(frozen=True)
class Body:
    """The chosen text part, decoded, newlines as "\\n"; `flowed`/`delsp` per RFC 3676."""

    text: str
    kind: Literal["plain", "html"]
    flowed: bool
    delsp: bool


class Headers:
    """Top-level header fields, unfolded and decoded to str, in order; names compare without
    case. Offers the `get`/`get_all` of email.message.Message, so checks take either."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._fields = fields

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._fields)

    def get(self, name: str, failobj: str | None = None) -> str | None:
        wanted = name.lower()
        for key, value in self._fields:
            if key.lower() == wanted:
                return value
        return failobj

    def get_all(self, name: str, failobj: list[str] | None = None) -> list[str] | None:
        wanted = name.lower()
        found = [value for key, value in self._fields if key.lower() == wanted]
        return found or failobj

    def get_content_type(self) -> str:
        value = self.get("Content-Type") or ""
        main = value.split(";", 1)[0].strip().lower()
        return main if main.count("/") == 1 else "text/plain"


@dataclass(frozen=True)
class ParsedEmail:
    headers: Headers
    body: Body | None = None
    attachments: tuple[str, ...] = ()
    problem: Problem | None = None

    @property
    def message_id(self) -> str | None:
        value = self.headers.get("Message-ID")
        match = _MESSAGE_ID.search(value or "")
        return f"<{match.group(1)}>" if match else None

    @property
    def subject(self) -> str:
        text = decode_words(self.headers.get("Subject") or "")
        text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
        return text[:_MAX_SUBJECT_CHARS]

    def author(self) -> tuple[Mailbox | None, str | None]:
        return single_author(self.headers.get_all("From") or [])

    def addresses(self, *names: str) -> list[str]:
        """The readable mailboxes of these headers (To, Cc...), in order, duplicates dropped."""
        seen: dict[str, str] = {}
        for name in names:
            for value in self.headers.get_all(name) or []:
                for box in parse_address_list(value).mailboxes:
                    seen.setdefault(box.address.lower(), box.address)
        return list(seen.values())


def scan_headers(raw: bytes, limits: Limits) -> Headers | Problem:
    """The top-level header section, or why it cannot be read. Linear in its size."""
    end = _header_end(raw, limits.max_header_bytes)
    if end is None:
        return Problem(
            UNREADABLE,
            f"The email's header section is over {limits.max_header_bytes // 1024} KB, "
            "so it cannot be read.",
        )
    section = raw[:end]
    if b"\x00" in section:
        return Problem(UNREADABLE, "The email's header section holds NUL bytes.")
    fields: list[tuple[str, str]] = []
    name: bytes | None = None
    lines: list[bytes] = []
    size = 0

    def close() -> Problem | None:
        if name is None:
            return None
        if len(fields) >= limits.max_fields:
            return Problem(
                UNREADABLE, f"The email has more than {limits.max_fields} header fields."
            )
        fields.append((name.decode("ascii"), _decode_header_bytes(b"".join(lines))))
        return None

    for index, line in enumerate(section.split(b"\n")):
        line = line.removesuffix(b"\r")
        if index == 0 and line.startswith(b"From "):
            continue  # an mbox "From " line some tools leave on top
        if line[:1] in (b" ", b"\t"):
            if name is None:
                continue  # stray folding before any field: nothing to attach it to
            lines.append(line)
            size += len(line)
            if len(lines) > limits.max_lines_per_field or size > limits.max_field_bytes:
                shown = name.decode("ascii")[:40]
                return Problem(
                    UNREADABLE, f"The email's {shown} header is too long or folded too often."
                )
            continue
        problem = close()
        if problem is not None:
            return problem
        field_name, colon, value = line.partition(b":")
        field_name = field_name.rstrip(b" \t")
        if not colon or not _FIELD_NAME.fullmatch(field_name):
            shown = line[:40].decode("latin-1")
            return Problem(
                UNREADABLE, f"A line of the email's header section is not a field: {shown!r}."
            )
        name, lines, size = field_name, [value], len(value)
        if size > limits.max_field_bytes:
            return Problem(
                UNREADABLE, f"The email's {field_name.decode('ascii')[:40]} header is too long."
            )
    problem = close()
    if problem is not None:
        return problem
    return Headers(fields)


def read_email(
    raw: bytes, limits: Limits, clock: Callable[[], float] = time.monotonic
) -> ParsedEmail:
    """Headers, the text part and attachment names; `problem` says what could not be read."""
    started = clock()
    scanned = scan_headers(raw, limits)
    if isinstance(scanned, Problem):
        return ParsedEmail(Headers([]), problem=scanned)
    headers = scanned

    def late() -> ParsedEmail | None:
        if clock() - started > limits.budget_seconds:
            return ParsedEmail(
                headers,
                problem=Problem(
                    TOO_SLOW, f"The email took more than {limits.budget_seconds:g} s to read."
                ),
            )
        return None

    containers = len(_CONTAINER.findall(raw))
    if containers > limits.max_mime_parts:
        return ParsedEmail(
            headers,
            problem=Problem(
                TOO_COMPLEX, f"The email has more than {limits.max_mime_parts} MIME parts."
            ),
        )
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception as exc:  # the feed parser is lenient; anything it raises means junk
        return ParsedEmail(
            headers,
            problem=Problem(
                UNREADABLE, f"The email's MIME structure cannot be read ({type(exc).__name__})."
            ),
        )
    if (over := late()) is not None:
        return over
    walked = walk_parts(message, limits)
    if isinstance(walked, Problem):
        return ParsedEmail(headers, problem=walked)
    texts, attachments = walked
    body = choose_body(texts)
    if isinstance(body, Problem):
        return ParsedEmail(headers, problem=body)
    if (over := late()) is not None:
        return over
    return ParsedEmail(headers, body=body, attachments=tuple(attachments))


def not_text_reason(text: str) -> str | None:
    """Why this is not text to send by SMS (binary junk, NUL, control characters), or None."""
    if "\x00" in text:
        return "The email's text holds NUL characters, so it is not text we can send."
    bad = 0
    replacement = 0
    for char in text:
        if char in _ALLOWED_CONTROLS:
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cs", "Cn"):
            bad += 1
        elif char == "\ufffd":
            replacement += 1
    if bad:
        return (
            f"The email's text holds {bad} control or invalid characters; it looks like binary "
            "data, not text we can send."
        )
    if replacement > max(3, len(text) // 100):
        return "The email's text is mostly undecodable characters, not text we can send."
    return None


# --- helpers -------------------------------------------------------------------------------


def _header_end(raw: bytes, max_bytes: int) -> int | None:
    """Where the header section ends (the blank line), looking no further than max_bytes."""
    window = raw[: max_bytes + 4]
    found = [at for at in (window.find(s) for s in (b"\r\n\r\n", b"\n\n", b"\n\r\n")) if at != -1]
    if found:
        at = min(found)
        return at if at <= max_bytes else None
    # No body: the whole email is headers, if it fits.
    return len(raw) if len(raw) <= max_bytes else None


def _decode_header_bytes(value: bytes) -> str:
    # RFC 6532 allows UTF-8 in headers; older 8-bit headers are mostly Latin-1/windows-1252.
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("cp1252", errors="replace")
    return text.strip()


_TextPart = tuple[Message, Literal["plain", "html"]]


def walk_parts(message: Message, limits: Limits) -> tuple[list[_TextPart], list[str]] | Problem:
    """Inline text parts and attachment names, depth-first, without recursion."""
    texts: list[_TextPart] = []
    attachments: list[str] = []
    stack: list[tuple[Message, int]] = [(message, 0)]
    parts = 0
    while stack:
        part, depth = stack.pop()
        parts += 1
        if parts > limits.max_mime_parts:
            return Problem(
                TOO_COMPLEX, f"The email has more than {limits.max_mime_parts} MIME parts."
            )
        if depth > limits.max_mime_depth:
            return Problem(
                TOO_COMPLEX, f"The email's MIME parts nest more than {limits.max_mime_depth} deep."
            )
        content_type = str(part.get("Content-Type", ""))
        if len(content_type) > _MAX_PART_HEADER:
            return Problem(TOO_COMPLEX, "A MIME part of the email has an over-long Content-Type.")
        # get_payload() is only asked of containers: on a leaf it decodes 8-bit text with the
        # declared charset, and charsets like "idna" raise there.
        payload = part.get_payload() if part.is_multipart() else None
        if isinstance(payload, list):
            stack.extend(
                (child, depth + 1) for child in reversed(payload) if isinstance(child, Message)
            )
            continue
        disposition = str(part.get("Content-Disposition", ""))[:_MAX_PART_HEADER]
        attached = disposition.split(";", 1)[0].strip().lower() == "attachment"
        kind = part.get_content_type()
        if not attached and kind in ("text/plain", "text/html") and not _has_name(part):
            texts.append((part, "html" if kind == "text/html" else "plain"))
        elif part is not message:
            attachments.append(_attachment_name(part))
    return texts, attachments


def _has_name(part: Message) -> bool:
    # A text part with a file name is an attached file (a .txt or .html), not the message.
    return (
        bool(part.get_filename(None))
        if len(str(part.get("Content-Disposition", ""))) < _MAX_PART_HEADER
        else True
    )


def _attachment_name(part: Message) -> str:
    try:
        name = part.get_filename(None)
    except Exception:
        name = None
    text = decode_words(str(name)) if name else part.get_content_type()
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())[:100]


def choose_body(texts: list[_TextPart]) -> Body | Problem:
    """The first plain part, else the first HTML part (as get_body(("plain", "html")))."""
    chosen = next((t for t in texts if t[1] == "plain"), None) or next(iter(texts), None)
    if chosen is None:
        return Body("", "plain", False, False)
    part, kind = chosen
    try:
        text = decode_text_part(part)
    except Exception as exc:  # a broken transfer encoding or charset label in hostile mail
        return Problem(UNREADABLE, f"The email's text cannot be decoded ({type(exc).__name__}).")
    text = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")
    text = text[: _MAX_HTML_CHARS if kind == "html" else _MAX_TEXT_CHARS]
    flowed = kind == "plain" and _param(part, "format") == "flowed"
    delsp = flowed and _param(part, "delsp") == "yes"
    return Body(text, kind, flowed, delsp)


def _param(part: Message, name: str) -> str:
    value = part.get_param(name)
    if value is None:
        return ""
    if isinstance(value, tuple):
        value = collapse_rfc2231_value(value)
    return str(value).strip().lower()


def decode_text_part(part: Message) -> str:
    """A text part's payload as str: transfer encoding undone, the declared charset applied,
    and a missing, unknown or wrong charset falling back to UTF-8, then windows-1252, then
    Latin-1 (which never fails)."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    charset = part.get_content_charset()
    # An email parsed from str (not bytes) holds 8-bit text as str already, and the stdlib
    # makes bytes of it with raw-unicode-escape, which no charset decodes back: recognise that
    # round trip and keep the str. Latin-1 is left out because Latin-1 bytes pass the same
    # test, and they are better read as windows-1252 below.
    try:
        as_text = part.get_payload()
    except (UnicodeError, LookupError):
        as_text = None
    if (
        isinstance(as_text, str)
        and not as_text.isascii()
        and _codec_name(charset) != "iso8859-1"
        and as_text.encode("raw-unicode-escape") == data
    ):
        return as_text
    return _decode_bytes(data, charset)


def _codec_name(charset: str | None) -> str:
    try:
        return codecs.lookup(charset).name if charset else ""
    except Exception:
        # LookupError for unknown labels; a label holding NUL ("utf-8\0") raises others.
        return ""


def _decode_bytes(data: bytes, declared: str | None) -> str:
    candidates: list[str] = []
    name = _codec_name(declared)
    if name == "ascii":
        # 8-bit bytes labelled ASCII are a mislabel; UTF-8 decoding cleanly is strong evidence.
        candidates += ["utf-8", "cp1252"]
    elif name == "iso8859-1":
        # As in browsers: mail labelled Latin-1 is very often windows-1252 (curly quotes, €).
        candidates += ["cp1252"]
    elif name:
        candidates.append(name)
    candidates += ["utf-8", "cp1252"]
    for candidate in candidates:
        try:
            return data.decode(candidate)
        except (UnicodeError, LookupError, ValueError):
            # LookupError: labels like "base64" name codecs that are not text encodings;
            # UnicodeError: codecs like "idna" that fail in their own way.
            continue
    return data.decode("latin-1")


__all__ = [
    "AMBIGUOUS_AUTHOR",
    "NOT_TEXT",
    "TOO_COMPLEX",
    "TOO_SLOW",
    "UNREADABLE",
    "Body",
    "Headers",
    "Limits",
    "ParsedEmail",
    "Problem",
    "choose_body",
    "decode_text_part",
    "not_text_reason",
    "read_email",
    "scan_headers",
    "walk_parts",
]
