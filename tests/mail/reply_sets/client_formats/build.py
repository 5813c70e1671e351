"""Write the client-formats evaluation set: emails/, expected/ and manifest.json (deterministic).

Run from the repository root: `.venv/bin/python tests/mail/reply_sets/client_formats/build.py`.
Each item is a reply body as a client lays it out (clients.py) around a writer's text and a
quoted mail of our own (languages.py, handwritten.py); the expected text is the writer's text.
The held-out split is chosen by a hash of (client, language), so that whole client-language
pairs are unseen while the rules are tuned: see README.md.
"""

from __future__ import annotations

import hashlib
import json
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import clients as c  # noqa: E402
import handwritten  # noqa: E402
from languages import LANGUAGES, SHOP, Language  # noqa: E402

LICENCE = "smsbridge project licence (our own text, written for this set)"
ORIGIN = "written for smsbridge after the documented layout; no text copied from the source"
RULE = "_" * 32
WIDTH = 76  # where the clients that hard-wrap plain text break lines


@dataclass(frozen=True)
class Item:
    id: str
    client: str
    language: str
    variant: str
    body: str
    expected: str
    documented_at: str
    description: str
    split_key: str


VARIANT_TEXT = {
    "plain": "the client's default layout",
    "wrapattr": "the attribution wrapped over two lines by the client's line length",
    "hardwrap": "quoted lines hard-wrapped at 76 columns, continuation lines without '>'",
    "signature": "a '-- ' signature between the reply and the history",
    "bottom": "bottom-posted: the quoted mail first, the answer below it",
    "inline": "inline answers between quoted questions (the questions stay in the SMS)",
    "autosig": "the client's automatic signature above the history",
    "extrafield": "an extra localized field (Importance) in the header block",
    "nospace": "field names without a space after the colon ('Objet :x')",
    "quotedwrap": "Outlook 'prefix each line': the whole history quoted, long lines wrapped",
}


def _wrap(text: str, width: int = WIDTH) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=True, break_on_hyphens=False) or [""]


def _quoted(paragraphs: list[str], *, hard: bool = False) -> str:
    """Quote as a client does: '> ' on every wrapped line, or (hard) on the first one only."""
    lines: list[str] = []
    for index, paragraph in enumerate(paragraphs):
        if index:
            lines.append(">")
        if hard:
            # The client quoted the unwrapped paragraph, then its sender wrapped it at 76.
            wrapped = _wrap("> " + paragraph)
            lines.extend(wrapped)
        else:
            lines.extend("> " + line for line in _wrap(paragraph, WIDTH - 2))
    return "\n".join(lines)


def _unquoted(paragraphs: list[str]) -> str:
    return "\n\n".join("\n".join(_wrap(paragraph)) for paragraph in paragraphs)


def _first_name(lang: Language) -> str:
    return lang.customer.split()[0]


def _paragraphs(lang: Language, *, long: bool) -> list[str]:
    return [lang.long_quote if long else lang.short_quote, _first_name(lang)]


def _with_signature(reply: str, lang: Language) -> str:
    return f"{reply}\n\n-- \n{lang.signature_name}"


def _attribution(template: str, lang: Language, *, wrap: bool, width: int = 78) -> str:
    address = lang.customer_address
    if wrap:
        # A longer address, as for a club or a shared mailbox, pushes it past the line length.
        local, domain = address.split("@")
        address = f"{local}.members-club-desk@{domain}"
    text = template.format(n=lang.customer, e=address)
    if not wrap or len(text) <= width:
        return text
    return "\n".join(_wrap(text, width))


def attribution_item(
    client: str,
    template: str,
    lang: Language,
    variant: str,
    reply: str,
    *,
    quote_attribution: bool = False,
    signature: str | None = None,
    unquoted_history: bool = False,
    title: str | None = None,
) -> tuple[str, str]:
    """(body, expected) for a client that writes "On ... wrote:" above the old mail."""
    long = variant in ("hardwrap", "wrapattr") or len(reply) % 2 == 0
    attribution = _attribution(template, lang, wrap=variant == "wrapattr")
    paragraphs = _paragraphs(lang, long=long)
    if unquoted_history:
        history = f"{attribution}\n\n\n{_unquoted(paragraphs)}"
    elif quote_attribution:
        # iOS Mail quotes its own attribution: "> On ..., X wrote:" / ">" / "> text".
        quoted = _quoted(paragraphs, hard=variant == "hardwrap")
        history = "\n".join("> " + line for line in attribution.split("\n")) + "\n>\n" + quoted
    else:
        history = f"{attribution}\n\n{_quoted(paragraphs, hard=variant == 'hardwrap')}"
    if title is not None:
        history = f"{title}\n{history}"
    if variant == "inline" and lang.inline is not None:
        q1, a1, q2, a2 = lang.inline
        expected = f"> {q1}\n\n{a1}\n\n> {q2}\n\n{a2}"
        return f"{attribution}\n{expected}\n", expected
    if variant == "bottom":
        return f"{history}\n\n{reply}\n", reply
    top = reply
    if variant == "signature":
        top = _with_signature(reply, lang)
    if signature is not None:
        top = f"{top}\n\n{signature}"
    return f"{top}\n\n{history}\n", reply


def _field(label: str, value: str, lang: Language, *, nospace: bool) -> str:
    # French puts a space before the colon; the text part of Outlook on the web can lose the
    # one after it (the field name is bold in the HTML).
    colon = " :" if lang.code == "fr" else ":"
    if nospace:
        return f"{label}{colon}{value}"
    return f"{label}{colon} {value}" if value else f"{label}{colon}"


def header_item(
    lang: Language,
    variant: str,
    reply: str,
    fields: list[tuple[str, str]],
    *,
    separator: str | None,
    signature: str | None = None,
    extra: str | None = None,
) -> tuple[str, str]:
    """(body, expected) for a client that copies the old mail below a header block."""
    lines = [_field(label, value, lang, nospace=variant == "nospace") for label, value in fields]
    if extra is not None and variant == "extrafield":
        lines.append(extra)
    paragraphs = _paragraphs(lang, long=variant == "quotedwrap" or len(reply) % 2 == 1)
    if variant == "quotedwrap":
        head = ([separator] if separator else []) + lines
        quoted_head = "\n".join("> " + line for line in head)
        history = f"{quoted_head}\n>\n{_quoted(paragraphs, hard=True)}"
    else:
        block = "\n".join(([separator] if separator else []) + lines)
        history = f"{block}\n\n{_unquoted(paragraphs)}"
    top = _with_signature(reply, lang) if variant == "signature" else reply
    if signature is not None:
        top = f"{top}\n\n{signature}"
    return f"{top}\n\n{history}\n", reply


def _subject(lang: Language) -> str:
    return f"{lang.reply_prefix} {lang.topic}"


def _outlook_fields(lang: Language, *, mailto: bool, cc: bool) -> list[tuple[str, str]]:
    (from_, sent, to, cc_label, subject), date, _title, _extra = c.OUTLOOK[lang.code]
    sender = (
        f"{lang.customer} [mailto:{lang.customer_address}]"
        if mailto
        else (f"{lang.customer} <{lang.customer_address}>")
    )
    fields = [(from_, sender), (sent, date), (to, SHOP)]
    if cc:
        fields.append((cc_label, ""))
    fields.append((subject, _subject(lang)))
    return fields


Builder = Callable[[Language, str, str], tuple[str, str]]


def _gmail(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    return attribution_item("gmail-web", c.GMAIL[lang.code], lang, variant, reply)


def _gmail_android(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    return attribution_item("gmail-android", c.GMAIL_ANDROID[lang.code], lang, variant, reply)


def _apple(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    return attribution_item("apple-mail", c.APPLE[lang.code], lang, variant, reply)


def _ios(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    return attribution_item(
        "ios-mail",
        c.APPLE[lang.code],
        lang,
        variant,
        reply,
        quote_attribution=True,
        signature=c.IOS_SIGNATURE[lang.code],
    )


def _thunderbird(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    return attribution_item("thunderbird", c.THUNDERBIRD[lang.code], lang, variant, reply)


def _yahoo(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    signature = c.YAHOO_SIGNATURE[lang.code] if variant == "autosig" else None
    return attribution_item(
        "yahoo",
        c.YAHOO[lang.code],
        lang,
        variant,
        reply,
        unquoted_history=True,
        signature=signature,
    )


def _zoho(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    return attribution_item("zoho", c.ZOHO[lang.code], lang, variant, reply, unquoted_history=True)


def _proton(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    signature, template = c.PROTON[lang.code]
    return attribution_item(
        "proton",
        template,
        lang,
        variant,
        reply,
        signature=signature,
        title="------- Original Message -------",
    )


def _fastmail(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    return attribution_item("fastmail", c.FASTMAIL[lang.code], lang, variant, reply)


def _yandex(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    return attribution_item("yandex", c.YANDEX[lang.code], lang, variant, reply)


def _mailru(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    return attribution_item("mailru", c.MAILRU[lang.code], lang, variant, reply)


def _outlook_desktop(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    extra = c.OUTLOOK[lang.code][3]
    fields = _outlook_fields(lang, mailto=False, cc=variant != "plain")
    return header_item(lang, variant, reply, fields, separator=RULE, extra=extra)


def _outlook_plain(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    title = c.OUTLOOK[lang.code][2]
    fields = _outlook_fields(lang, mailto=True, cc=False)
    return header_item(lang, variant, reply, fields, separator=f"-----{title}-----")


def _outlook_web(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    fields = _outlook_fields(lang, mailto=False, cc=False)
    return header_item(lang, variant, reply, fields, separator=RULE)


def _outlook_mac(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    (from_, date_label, to, subject), date = c.OUTLOOK_MAC[lang.code]
    fields = [
        (from_, f"{lang.customer} <{lang.customer_address}>"),
        (date_label, date),
        (to, SHOP),
        (subject, _subject(lang)),
    ]
    return header_item(lang, variant, reply, fields, separator=None)


def _outlook_mobile(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    fields = _outlook_fields(lang, mailto=False, cc=False)
    signature = c.OUTLOOK_MOBILE_SIGNATURE[lang.code]
    return header_item(lang, variant, reply, fields, separator=RULE, signature=signature)


def _samsung(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    signature, title, (from_, date_label, to, subject) = c.SAMSUNG[lang.code]
    fields = [
        (from_, f"{lang.customer} <{lang.customer_address}>"),
        (date_label, "04/03/2025 09:15 (GMT+01:00)"),
        (to, SHOP),
        (subject, _subject(lang)),
    ]
    return header_item(
        lang, variant, reply, fields, separator=f"-------- {title} --------", signature=signature
    )


def _gmx(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    (sent, from_, to, subject), date = c.GMX[lang.code]
    fields = [
        (sent, date),
        (from_, f'"{lang.customer}" <{lang.customer_address}>'),
        (to, SHOP),
        (subject, _subject(lang)),
    ]
    return header_item(lang, variant, reply, fields, separator=None)


def _yahoo_classic(lang: Language, variant: str, reply: str) -> tuple[str, str]:
    title, (from_, to, sent, subject), date = c.YAHOO_CLASSIC[lang.code]
    fields = [
        (from_, f"{lang.customer} <{lang.customer_address}>"),
        (to, SHOP),
        (sent, date),
        (subject, _subject(lang)),
    ]
    return header_item(lang, variant, reply, fields, separator=f"----- {title} -----")


# client key, display name, builder, languages, variants, items per language
CLIENTS: list[tuple[str, str, Builder, list[str], tuple[str, ...], int]] = [
    (
        "gmail-web",
        "Gmail (web)",
        _gmail,
        list(c.GMAIL),
        ("plain", "wrapattr", "hardwrap", "signature", "bottom", "inline"),
        3,
    ),
    (
        "gmail-android",
        "Gmail for Android",
        _gmail_android,
        list(c.GMAIL_ANDROID),
        ("plain", "wrapattr", "hardwrap"),
        2,
    ),
    (
        "apple-mail",
        "Apple Mail (macOS)",
        _apple,
        list(c.APPLE),
        ("plain", "hardwrap", "signature", "bottom"),
        3,
    ),
    ("ios-mail", "iOS Mail", _ios, list(c.APPLE), ("autosig", "hardwrap"), 2),
    (
        "thunderbird",
        "Thunderbird",
        _thunderbird,
        list(c.THUNDERBIRD),
        ("plain", "hardwrap", "signature", "bottom"),
        3,
    ),
    ("yahoo", "Yahoo Mail (web and app)", _yahoo, list(c.YAHOO), ("plain", "autosig"), 2),
    ("zoho", "Zoho Mail", _zoho, list(c.ZOHO), ("plain",), 1),
    ("proton", "Proton Mail", _proton, list(c.PROTON), ("plain",), 1),
    ("fastmail", "Fastmail", _fastmail, list(c.FASTMAIL), ("plain", "hardwrap"), 2),
    ("yandex", "Yandex Mail", _yandex, list(c.YANDEX), ("plain", "signature"), 2),
    ("mailru", "Mail.ru", _mailru, list(c.MAILRU), ("plain", "signature"), 2),
    (
        "outlook-desktop",
        "Outlook for Windows",
        _outlook_desktop,
        list(c.OUTLOOK),
        ("plain", "signature", "extrafield"),
        3,
    ),
    (
        "outlook-plain",
        "Outlook (plain-text reply)",
        _outlook_plain,
        list(c.OUTLOOK),
        ("plain", "quotedwrap"),
        2,
    ),
    (
        "outlook-web",
        "Outlook on the web / new Outlook",
        _outlook_web,
        list(c.OUTLOOK),
        ("nospace", "plain"),
        2,
    ),
    (
        "outlook-mac",
        "Outlook for Mac",
        _outlook_mac,
        list(c.OUTLOOK_MAC),
        ("plain", "signature"),
        2,
    ),
    (
        "outlook-mobile",
        "Outlook for iOS/Android",
        _outlook_mobile,
        list(c.OUTLOOK_MOBILE_SIGNATURE),
        ("plain",),
        1,
    ),
    ("samsung", "Samsung Email", _samsung, list(c.SAMSUNG), ("plain",), 1),
    ("gmx", "GMX / WEB.DE", _gmx, list(c.GMX), ("plain", "signature"), 2),
    ("yahoo-classic", "Yahoo Mail classic", _yahoo_classic, list(c.YAHOO_CLASSIC), ("plain",), 1),
]


def generated_items() -> list[Item]:
    items: list[Item] = []
    for client, name, build, languages, variants, per_language in CLIENTS:
        for index, code in enumerate(languages):
            lang = LANGUAGES[code]
            chosen: list[str] = []
            for offset in range(len(variants)):
                variant = variants[(index + offset) % len(variants)]
                if variant == "inline" and lang.inline is None:
                    continue
                chosen.append(variant)
                if len(chosen) == per_language:
                    break
            for number, variant in enumerate(chosen):
                reply = lang.replies[(index + number) % len(lang.replies)]
                body, expected = build(lang, variant, reply)
                items.append(
                    Item(
                        id=f"{client}-{code}-{variant}",
                        client=name,
                        language=code,
                        variant=variant,
                        body=body,
                        expected=expected,
                        documented_at=c.DOCUMENTED[client],
                        description=VARIANT_TEXT[variant],
                        split_key=f"{client}/{code}",
                    )
                )
    return items


def handwritten_items() -> list[Item]:
    return [
        Item(
            id=f"hand-{case.id}",
            client=case.client,
            language=case.language,
            variant="handwritten",
            body=case.body,
            expected=case.expected,
            documented_at=case.documented_at,
            description=case.description,
            split_key=f"hand/{case.id}",
        )
        for case in handwritten.CASES
    ]


def is_held_out(split_key: str) -> bool:
    """About a quarter of the client-language pairs (and hand-written cases), by hash."""
    return hashlib.sha256(split_key.encode()).digest()[0] % 4 == 0


def main() -> int:
    items = generated_items() + handwritten_items()
    ids = [item.id for item in items]
    duplicates = sorted({name for name in ids if ids.count(name) > 1})
    if duplicates:
        raise SystemExit(f"duplicate ids: {duplicates}")
    for folder in ("emails", "expected"):
        (HERE / folder).mkdir(exist_ok=True)
        for stale in (HERE / folder).glob("*.txt"):
            stale.unlink()
    manifest = []
    for item in items:
        (HERE / "emails" / f"{item.id}.txt").write_bytes(item.body.encode())
        (HERE / "expected" / f"{item.id}.txt").write_bytes((item.expected + "\n").encode())
        manifest.append(
            {
                "id": item.id,
                "client": item.client,
                "language": item.language,
                "variant": item.variant,
                "format": item.description,
                "documented_at": item.documented_at,
                "origin": ORIGIN,
                "licence": LICENCE,
                "split": "heldout" if is_held_out(item.split_key) else "dev",
            }
        )
    text = json.dumps({"items": manifest}, ensure_ascii=False, indent=1)
    (HERE / "manifest.json").write_text(text + "\n", encoding="utf-8")
    held_out = sum(entry["split"] == "heldout" for entry in manifest)
    print(f"{len(manifest)} items, {held_out} held out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
