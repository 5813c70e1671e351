"""Malformed and hostile emails, for the mail fuzz (tests/mail/test_mail_fuzz.py and
bench/mail_fuzz.py): the classes that broke or fooled the receiver, then random damage.

Every email claims to come from a member of the conversation (`member`) and is addressed to its
reply address, so that only the receiver's own rules stand between it and an SMS. Emails whose
author is ambiguous say so (`ambiguous_author`), so a run can check none became an SMS.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class HostileEmail:
    family: str
    raw: bytes
    ambiguous_author: bool = False


@dataclass(frozen=True)
class Target:
    reply_to: str  # the conversation's reply address
    member: str  # an address allowed to answer, e.g. alice@acme.example
    stranger: str = "mallory@forged.example"
    extra_headers: str = ""  # e.g. a trusted Authentication-Results line, CRLF-terminated


def _email(target: Target, headers: str, body: str | bytes = "Yes, 8pm is fine.\r\n") -> bytes:
    data = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
    head = target.extra_headers + headers
    if "\nTo:" not in "\n" + head:
        head += f"To: {target.reply_to}\r\n"
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + data


def _basic(target: Target, rng: random.Random) -> str:
    return f"Subject: Re: hi {rng.randrange(10**9)}\r\nMessage-ID: <{rng.randrange(10**12)}@x>\r\n"


Maker = Callable[[Target, random.Random], HostileEmail]


def quadratic_from(t: Target, rng: random.Random) -> HostileEmail:
    folded = '\r\n "'.join(["x"] * rng.randrange(2_000, 30_000))
    return HostileEmail("folded quotes in From", _email(t, f'From: "{folded}\r\n' + _basic(t, rng)))


def two_from_headers(t: Target, rng: random.Random) -> HostileEmail:
    head = f"From: {t.stranger}\r\nFrom: {t.member}\r\n" + _basic(t, rng)
    return HostileEmail("two From headers", _email(t, head), ambiguous_author=True)


def from_group(t: Target, rng: random.Random) -> HostileEmail:
    head = f"From: team: {t.member}, {t.stranger};\r\n" + _basic(t, rng)
    return HostileEmail("From group", _email(t, head), ambiguous_author=True)


def two_mailboxes(t: Target, rng: random.Random) -> HostileEmail:
    pair = [t.member, t.stranger]
    rng.shuffle(pair)
    head = f"From: {pair[0]}, {pair[1]}\r\n" + _basic(t, rng)
    return HostileEmail("From with two mailboxes", _email(t, head), ambiguous_author=True)


def address_display_name(t: Target, rng: random.Random) -> HostileEmail:
    local, _, domain = t.member.partition("@")
    encoded = f"=?utf-8?q?{local}=40{domain.replace('.', '=2E')}?="
    name = rng.choice([f'"{t.member}"', encoded, t.member])
    head = f"From: {name} <{t.stranger}>\r\n" + _basic(t, rng)
    return HostileEmail("display name is an address", _email(t, head), ambiguous_author=True)


def bad_charset(t: Target, rng: random.Random) -> HostileEmail:
    charset = rng.choice(["undefined", "idna", "utf-8\x00", "base64", "x-unknown", "utf-7", ""])
    head = (
        f"From: {t.member}\r\n{_basic(t, rng)}MIME-Version: 1.0\r\n"
        f'Content-Type: text/plain; charset="{charset}"\r\n'
    )
    return HostileEmail("charset garbage", _email(t, head, "Caf\xe9 8pm\r\n".encode("latin-1")))


def broken_addresses(t: Target, rng: random.Random) -> HostileEmail:
    header = rng.choice(
        [
            "Cc: g: ;;;",
            "From: a@[111",
            "Cc: <<<<",
            "To: ,,,,,,@@@@",
            'Reply-To: "unterminated <a@b.c>',
            f"Cc: {'(' * 600}x{')' * 600} <b@c.d>",
            "Cc: " + ", ".join(f"u{i}@x.example" for i in range(500)),
        ]
    )
    head = f"From: {t.member}\r\n{header}\r\n" + _basic(t, rng)
    ambiguous = header.startswith("From:")
    return HostileEmail("broken address headers", _email(t, head), ambiguous_author=ambiguous)


def bad_message_id(t: Target, rng: random.Random) -> HostileEmail:
    value = rng.choice(["<<<<", "<>", "<" * 5000, "no brackets", "<a@b> <c@d>", "\x01\x02"])
    head = f"From: {t.member}\r\nSubject: x\r\nMessage-ID: {value}\r\nReferences: {value}\r\n"
    return HostileEmail("Message-ID garbage", _email(t, head))


def nested_comments(t: Target, rng: random.Random) -> HostileEmail:
    depth = rng.randrange(50, 2_000)
    head = f"From: {'(' * depth}{t.member}{')' * depth}\r\n" + _basic(t, rng)
    return HostileEmail("nested comments in From", _email(t, head))


def nested_multipart(t: Target, rng: random.Random) -> HostileEmail:
    depth = rng.randrange(20, 1_500)
    head = f"From: {t.member}\r\n{_basic(t, rng)}MIME-Version: 1.0\r\n"
    body: list[str] = []
    for i in range(depth):
        body.append(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n')
    body.append("Content-Type: text/plain\r\n\r\nYes\r\n")
    body += [f"--b{i}--\r\n" for i in reversed(range(depth))]
    all_but_first = "".join(body)
    first_header, _, rest = all_but_first.partition("\r\n\r\n")
    return HostileEmail("deep multipart nesting", _email(t, head + first_header + "\r\n", rest))


def many_parts(t: Target, rng: random.Random) -> HostileEmail:
    count = rng.randrange(150, 5_000)
    head = (
        f"From: {t.member}\r\n{_basic(t, rng)}MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="p"\r\n'
    )
    body = (
        "".join("--p\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(count)) + "--p--\r\n"
    )
    return HostileEmail("thousands of parts", _email(t, head, body))


def nul_in_text(t: Target, rng: random.Random) -> HostileEmail:
    head = f"From: {t.member}\r\n{_basic(t, rng)}Content-Type: text/plain; charset=utf-8\r\n"
    return HostileEmail("NUL in the text", _email(t, head, "Yes\x00 8pm\x00\r\n"))


def binary_text(t: Target, rng: random.Random) -> HostileEmail:
    junk = bytes(rng.randrange(256) for _ in range(rng.randrange(50, 3_000)))
    head = (
        f"From: {t.member}\r\n{_basic(t, rng)}"
        f"Content-Type: text/plain; charset={rng.choice(['latin-1', 'utf-8', 'cp1252'])}\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
    )
    return HostileEmail("binary junk as text", _email(t, head, junk))


def broken_header_section(t: Target, rng: random.Random) -> HostileEmail:
    choice = rng.randrange(5)
    if choice == 0:
        head = f"From: {t.member}\r\nSubject: a\x00b\r\n"
    elif choice == 1:
        head = f"From: {t.member}\r\nthis line is not a header\r\n"
    elif choice == 2:
        head = f"From: {t.member}\r\n" + "".join(f"X-H{i}: v\r\n" for i in range(3_000))
    elif choice == 3:
        head = f"From: {t.member}\r\nX-Long: {'y' * 200_000}\r\n"
    else:
        head = f"From: {t.member}\r\nSubject: x\r\n" + " fold\r\n" * 5_000
    return HostileEmail("broken header section", _email(t, head))


def encoding_garbage(t: Target, rng: random.Random) -> HostileEmail:
    cte = rng.choice(["base64", "quoted-printable", "x-uuencode", "7bit", "binary", "gzip"])
    body = rng.choice(["!!!!not base64====\r\n", "=ZZ=\r\n=", "begin 644 x\r\n$$$\r\n", "\xff\xfe"])
    head = (
        f"From: {t.member}\r\n{_basic(t, rng)}Content-Type: text/plain\r\n"
        f"Content-Transfer-Encoding: {cte}\r\n"
    )
    return HostileEmail("transfer-encoding garbage", _email(t, head, body))


def broken_multipart(t: Target, rng: random.Random) -> HostileEmail:
    head = f"From: {t.member}\r\n{_basic(t, rng)}MIME-Version: 1.0\r\n" + rng.choice(
        [
            'Content-Type: multipart/mixed; boundary="nope\r\n',
            "Content-Type: multipart/alternative\r\n",
            'Content-Type: multipart/mixed; boundary=""\r\n',
            "Content-Type: multipart/mixed; boundary=" + "b" * 5_000 + "\r\n",
            "Content-Type: message/rfc822\r\n",
        ]
    )
    return HostileEmail("broken multipart", _email(t, head, "--nope\r\n\xff\xfe broken\r\n"))


def encoded_word_garbage(t: Target, rng: random.Random) -> HostileEmail:
    subject = rng.choice(
        [
            "=?utf-8?b?!!!!?=",
            "=?unknown?q?x?=",
            "=?utf-8?q?" + "=ZZ" * 1_000 + "?=",
            "=?" * 5_000,
            "=?utf-8\x00?b?eA==?=",
        ]
    )
    head = f"From: {t.member}\r\nSubject: {subject}\r\n"
    return HostileEmail("encoded-word garbage", _email(t, head))


def eight_bit_headers(t: Target, rng: random.Random) -> HostileEmail:
    raw = (
        t.extra_headers.encode()
        + b"From: J\xfcrgen <"
        + t.member.encode()
        + b">\r\nSubject: \xe9\xe8\xff\r\nTo: "
        + t.reply_to.encode()
        + b"\r\n\r\nJa, 20 Uhr passt.\r\n"
    )
    return HostileEmail("8-bit headers", raw)


def truncated(t: Target, rng: random.Random) -> HostileEmail:
    choice = rng.randrange(4)
    if choice == 0:
        raw = b""
    elif choice == 1:
        raw = (t.extra_headers + f"From: {t.member}\r\nTo: {t.reply_to}").encode()
    elif choice == 2:
        raw = b"\r\n\r\nbody only"
    else:
        raw = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2_000)))
    return HostileEmail("truncated or no headers", raw)


def mutated(t: Target, rng: random.Random) -> HostileEmail:
    """A plausible reply, then random damage: flipped bytes, cut, repeated or swapped lines."""
    base = bytearray(
        _email(
            t,
            f"From: Alice <{t.member}>\r\n{_basic(t, rng)}MIME-Version: 1.0\r\n"
            'Content-Type: multipart/alternative; boundary="alt"\r\n',
            "--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYes, 8pm is fine.\r\n"
            '--alt\r\nContent-Type: text/html; charset="utf-8"\r\n\r\n<p>Yes</p>\r\n--alt--\r\n',
        )
    )
    for _ in range(rng.randrange(1, 12)):
        action = rng.randrange(4)
        if action == 0 and base:
            base[rng.randrange(len(base))] = rng.randrange(256)
        elif action == 1 and base:
            del base[rng.randrange(len(base)) :]
        elif action == 2:
            lines = bytes(base).split(b"\r\n")
            if lines:
                i = rng.randrange(len(lines))
                lines.insert(i, lines[i] * rng.randrange(1, 50))
                base = bytearray(b"\r\n".join(lines))
        else:
            lines = bytes(base).split(b"\r\n")
            rng.shuffle(lines)
            base = bytearray(b"\r\n".join(lines))
    return HostileEmail("random damage", bytes(base))


FAMILIES: tuple[Maker, ...] = (
    quadratic_from,
    two_from_headers,
    from_group,
    two_mailboxes,
    address_display_name,
    bad_charset,
    broken_addresses,
    bad_message_id,
    nested_comments,
    nested_multipart,
    many_parts,
    nul_in_text,
    binary_text,
    broken_header_section,
    encoding_garbage,
    broken_multipart,
    encoded_word_garbage,
    eight_bit_headers,
    truncated,
    mutated,
)


def hostile_emails(target: Target, count: int, seed: int) -> Iterator[HostileEmail]:
    """`count` emails, each family in turn (so every class is present), seeded."""
    rng = random.Random(seed)
    for index in range(count):
        yield FAMILIES[index % len(FAMILIES)](target, rng)


def good_reply(target: Target, text: str, seed: int) -> bytes:
    head = (
        f"From: Alice <{target.member}>\r\nSubject: Re: your SMS\r\n"
        f"Message-ID: <good-{seed}@acme.example>\r\nContent-Type: text/plain; charset=utf-8\r\n"
    )
    return _email(target, head, text + "\r\n")
