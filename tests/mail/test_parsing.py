"""Reading hostile email within bounds: the address parser and the bounded reader (pure), with
Hypothesis for the properties that must hold for any input."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.mail.hostile import FAMILIES, Target, hostile_emails

from smsbridge.mail.addresses import parse_address_list, single_author
from smsbridge.mail.parsing import (
    NOT_TEXT,
    TOO_COMPLEX,
    UNREADABLE,
    Limits,
    Problem,
    not_text_reason,
    read_email,
    scan_headers,
)

TARGET = Target(reply_to="reply+abc@sms.acme.test", member="alice@acme.example")

locals_ = st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,20}", fullmatch=True).filter(
    lambda s: ".." not in s and not s.endswith(".")
)
domains = st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9]{1,10}){1,3}", fullmatch=True)
addresses = st.builds(lambda local, domain: f"{local}@{domain}", locals_, domains)
names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), max_size=30
).filter(lambda s: "@" not in s)


# --- addresses ----------------------------------------------------------------------------


def test_one_author_in_the_usual_forms() -> None:
    for value in (
        "Alice <alice@acme.example>",
        "alice@acme.example",
        '"Smith, Alice" <alice@acme.example>',
        "alice@acme.example (Alice)",
        "=?utf-8?q?Al=C3=AFce?= <alice@acme.example>",
        "alice@acme.example <alice@acme.example>",  # a name that is its own address is fine
        "<@relay.example:alice@acme.example>",
    ):
        author, problem = single_author([value])
        assert problem is None, value
        assert author is not None and author.address == "alice@acme.example"


def test_ambiguous_authors_are_refused() -> None:
    for values in (
        ["alice@acme.example", "mallory@forged.example"],
        ["alice@acme.example, mallory@forged.example"],
        ["team: alice@acme.example;"],
        ['"alice@acme.example" <mallory@forged.example>'],
        ["=?utf-8?q?alice=40acme=2Eexample?= <mallory@forged.example>"],
        ["a@[111"],
        ["<<<<"],
        [],
        ["(" * 600 + "alice@acme.example" + ")" * 600],
    ):
        author, problem = single_author(values)
        assert author is None and problem, values


@given(st.text(max_size=400))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_header_value_is_read_without_error(value: str) -> None:
    parsed = parse_address_list(value)
    assert all("@" not in box.domain for box in parsed.mailboxes)
    single_author([value])


@given(names, addresses)
def test_a_name_and_an_address_give_that_address(name: str, address: str) -> None:
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    author, problem = single_author([f'"{quoted}" <{address}>'])
    assert problem is None
    assert author is not None and author.address == address


@given(st.lists(addresses, min_size=2, max_size=5, unique=True), names)
def test_two_or_more_addresses_never_give_an_author(found: list[str], name: str) -> None:
    assert single_author([", ".join(found)])[0] is None
    assert single_author(found)[0] is None  # as separate From headers
    assert single_author([f"{name or 'g'}: {', '.join(found)};"])[0] is None  # as a group


def test_folded_quotes_and_deep_comments_are_read() -> None:
    # The classes that were quadratic or recursive in the standard library (how fast this is
    # belongs to bench/mail_fuzz.py; here: an answer, not a hang or a RecursionError).
    author, problem = single_author(['\r\n "'.join(["x"] * 40_000)])
    assert author is None and problem
    author, problem = single_author(["(" * 5_000 + "alice@acme.example" + ")" * 5_000])
    assert author is None and problem and "nested" in problem


# --- the bounded reader --------------------------------------------------------------------


def reply(text: str = "Yes, 8pm is fine.") -> bytes:
    message = EmailMessage()
    message["From"] = "Alice <alice@acme.example>"
    message["To"] = TARGET.reply_to
    message["Subject"] = "Re: hi"
    message["Message-ID"] = "<x@acme.example>"
    message.set_content(text)
    return message.as_bytes(policy=SMTP)


def test_a_plain_reply_is_read() -> None:
    parsed = read_email(reply(), Limits())
    assert parsed.problem is None
    assert parsed.body is not None and parsed.body.text.strip() == "Yes, 8pm is fine."
    assert parsed.message_id == "<x@acme.example>"
    author, _ = parsed.author()
    assert author is not None and author.address == "alice@acme.example"


def test_header_limits() -> None:
    limits = Limits(max_header_bytes=2_000, max_fields=10, max_field_bytes=500)
    too_many = b"".join(b"X-%d: v\r\n" % i for i in range(20)) + b"\r\nbody"
    too_long = b"Subject: " + b"y" * 600 + b"\r\n\r\nbody"
    too_big = b"X: " + b"z" * 3_000 + b"\r\n\r\nbody"
    folded = b"Subject: x\r\n" + b" fold\r\n" * 600 + b"\r\nbody"
    for raw in (too_many, too_long, too_big, folded, b"Subject: a\x00b\r\n\r\n", b"junk\r\n\r\n"):
        scanned = scan_headers(raw, limits)
        assert isinstance(scanned, Problem) and scanned.code == UNREADABLE, raw[:30]


def test_mime_limits() -> None:
    nested = next(e for e in hostile_emails(TARGET, 40, seed=1) if e.family.startswith("deep"))
    parsed = read_email(nested.raw, Limits())
    assert parsed.problem is not None and parsed.problem.code == TOO_COMPLEX


def test_text_that_is_not_text() -> None:
    assert not_text_reason("Yes, 8pm is fine. Grüße 👍\n\tok") is None
    for junk in ("a\x00b", "a\x07b", "\x80\x81\x82", "\ud800x"):
        assert not_text_reason(junk) is not None
    assert NOT_TEXT == "NOT_TEXT"


@given(st.binary(max_size=4_000))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_bytes_are_read_without_error(raw: bytes) -> None:
    parsed = read_email(raw, Limits())
    if parsed.problem is None and parsed.body is not None:
        not_text_reason(parsed.body.text)
    parsed.author()
    _ = parsed.subject, parsed.message_id, parsed.addresses("To", "Cc")


@given(st.integers(min_value=0, max_value=10_000))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_hostile_family_is_read_and_no_ambiguous_author_passes(seed: int) -> None:
    for email in hostile_emails(TARGET, len(FAMILIES), seed):
        parsed = read_email(email.raw, Limits())
        if email.ambiguous_author:
            assert parsed.author()[0] is None, email.family
