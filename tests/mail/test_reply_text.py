"""Reply-text extraction: hand-written replies from real clients, plus the corpus score."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from smsbridge.mail.reply_text import (
    MARKER,
    ExtractedReply,
    extract_reply_text,
    html_to_text,
    unflow,
)

REPO = Path(__file__).resolve().parents[2]
# The shared corpus sits beside the checkout (../shared); a CI clone elsewhere finds it through
# SMSBRIDGE_REPLY_CORPUS or the workplace's fixed location.
CORPUS = next(
    (
        path
        for path in (
            Path(os.environ.get("SMSBRIDGE_REPLY_CORPUS", "/nonexistent")),
            REPO.parent / "shared/corpora/reply-trimming",
            Path("/work/shared/corpora/reply-trimming"),
        )
        if (path / "emails").is_dir()
    ),
    REPO.parent / "shared/corpora/reply-trimming",
)

# (name, body, expected SMS text). Written from the formats the clients produce, not from the
# corpus: this is the check on mail the rules were not tuned on.
TRIMMED_CASES: list[tuple[str, str, str]] = [
    (
        "no_quote_at_all",
        "Hi Sam,\n\nYes, we have the blue one in stock. Come by after 2pm.\n\nAnna\n",
        "Hi Sam,\n\nYes, we have the blue one in stock. Come by after 2pm.\n\nAnna",
    ),
    (
        "gmail_english",
        "Booked you in for Tuesday at 10:30.\n\n"
        "On Mon, 3 Mar 2025 at 18:02, SMS Bridge <reply+k3j2@sms.example.com> wrote:\n\n"
        "> Can I book a haircut for Tuesday morning?\n>\n",
        "Booked you in for Tuesday at 10:30.",
    ),
    (
        "gmail_english_wrapped",
        "Sure, see you then.\n\n"
        "On Mon, Mar 3, 2025 at 6:02 PM SMS Bridge from +44 7700 900123 <\n"
        "reply+k3j2@sms.example.com> wrote:\n\n"
        "> Is the shop open on Sunday?\n",
        "Sure, see you then.",
    ),
    (
        "apple_mail_english",
        "We close at 6 today.\n\nSent from my iPhone\n\n"
        "> On 3 Mar 2025, at 18:02, SMS Bridge <reply+k3j2@sms.example.com> wrote:\n>\n"
        "> What time do you close?\n",
        "We close at 6 today.",
    ),
    (
        "thunderbird_english_no_address",
        "It is ready for collection.\n\nOn 03/03/2025 18:02, SMS Bridge wrote:\n"
        "> Is my bike ready?\n",
        "It is ready for collection.",
    ),
    (
        "outlook_english_block",
        "Your order ships tomorrow.\n\nKind regards,\nPriya\n\n"
        "________________________________\n"
        "From: SMS Bridge <reply+k3j2@sms.example.com>\n"
        "Sent: Monday, March 3, 2025 6:02 PM\n"
        "To: orders@shop.example.com\n"
        "Subject: SMS from +44 7700 900123\n\n"
        "When will my order ship?\n",
        "Your order ships tomorrow.\n\nKind regards,\nPriya",
    ),
    (
        "outlook_german_block",
        "Die Bestellung ist unterwegs.\n\nMit freundlichen Grüßen\nJonas\n\n"
        "Von: SMS Bridge <reply+k3j2@sms.example.com>\n"
        "Gesendet: Montag, 3. März 2025 18:02\n"
        "An: info@laden.example.de\n"
        "Betreff: SMS von +49 151 23456789\n\n"
        "Wo ist meine Bestellung?\n",
        "Die Bestellung ist unterwegs.\n\nMit freundlichen Grüßen\nJonas",
    ),
    (
        "outlook_french_block",
        "Oui, c'est possible demain.\n\n"
        "De : SMS Bridge <reply+k3j2@sms.example.com>\n"
        "Envoyé : lundi 3 mars 2025 18:02\n"
        "À : contact@boutique.example.fr\n"
        "Objet : SMS de +33 6 12 34 56 78\n\n"
        "Est-ce possible demain ?\n",
        "Oui, c'est possible demain.",
    ),
    (
        "gmail_german",
        "Ja, das passt.\n\n"
        "Am Mo., 3. März 2025 um 18:02 Uhr schrieb SMS Bridge <\n"
        "reply+k3j2@sms.example.com>:\n\n> Passt Dienstag?\n",
        "Ja, das passt.",
    ),
    (
        "apple_mail_german",
        "Bis morgen!\n\nVon meinem iPhone gesendet\n\n"
        "> Am 03.03.2025 um 18:02 schrieb SMS Bridge <reply+k3j2@sms.example.com>:\n>\n"
        "> Bis morgen?\n",
        "Bis morgen!",
    ),
    (
        "gmail_french",
        "Merci, à demain.\n\n"
        "Le lun. 3 mars 2025 à 18:02, SMS Bridge <reply+k3j2@sms.example.com> a écrit :\n\n"
        "> On se voit demain ?\n",
        "Merci, à demain.",
    ),
    (
        "gmail_spanish",
        "Perfecto, le esperamos.\n\n"
        "El lun, 3 mar 2025 a las 18:02, SMS Bridge (<reply+k3j2@sms.example.com>)\n"
        "escribió:\n\n> ¿Tienen mesa para dos?\n",
        "Perfecto, le esperamos.",
    ),
    (
        "gmail_italian",
        "Certo, passi pure.\n\n"
        "Il giorno lun 3 mar 2025 alle ore 18:02 SMS Bridge <reply+k3j2@sms.example.com> "
        "ha scritto:\n\n> Posso passare oggi?\n",
        "Certo, passi pure.",
    ),
    (
        "gmail_dutch",
        "Dat is goed.\n\n"
        "Op ma 3 mrt 2025 om 18:02 schreef SMS Bridge <reply+k3j2@sms.example.com>:\n\n"
        "> Is dat goed?\n",
        "Dat is goed.",
    ),
    (
        "apple_mail_dutch",
        "Klopt.\n\n"
        "> Op 3 mrt. 2025 om 18:02 heeft SMS Bridge <reply+k3j2@sms.example.com> het "
        "volgende geschreven:\n>\n> Klopt dat?\n",
        "Klopt.",
    ),
    (
        "gmail_portuguese",
        "Sim, temos.\n\n"
        "Em seg., 3 de mar. de 2025 às 18:02, SMS Bridge <reply+k3j2@sms.example.com> "
        "escreveu:\n\n> Vocês têm?\n",
        "Sim, temos.",
    ),
    (
        "gmail_swedish_and_polish",
        "Ja.\n\nDen mån 3 mars 2025 kl 18:02 skrev SMS Bridge <reply+k3j2@sms.example.com>:\n\n"
        "> pn., 3 mar 2025 o 17:00 Klient <c@example.pl> napisał(a):\n> Czy?\n",
        "Ja.",
    ),
    (
        "gmail_russian_without_verb",
        "Да, работаем.\n\n"
        "пн, 3 мар. 2025 г. в 18:02, SMS Bridge <reply+k3j2@sms.example.com>:\n\n"  # noqa: RUF001
        "> Вы работаете?\n",
        "Да, работаем.",
    ),
    (
        "outlook_reply_unquoted_history",
        "Confirmed.\n\n-----Original Message-----\nFrom: SMS Bridge <r@sms.example.com>\n"
        "Sent: 03 March 2025 18:02\nTo: desk@hotel.example.com\nSubject: SMS\n\n"
        "Can you confirm my room?\n",
        "Confirmed.",
    ),
    (
        "signature_dashes",
        "The part arrived, you can pick it up.\n\n-- \nMark Peters\nPeters Garage\n01632 960123\n",
        "The part arrived, you can pick it up.",
    ),
    (
        "sent_from_and_outlook_mobile",
        "On my way.\n\nGet Outlook for Android<https://aka.ms/AAb9ysg>\n",
        "On my way.",
    ),
    (
        "french_sent_from",
        "C'est noté.\n\nEnvoyé de mon iPhone\n",
        "C'est noté.",
    ),
    (
        "disclaimer_footer",
        "Your appointment is confirmed for Friday.\n\nBest,\nDr Lee's office\n\n"
        "CONFIDENTIALITY NOTICE: This e-mail and any attachments are confidential and may be "
        "privileged. If you are not the intended recipient, please delete it.\n",
        "Your appointment is confirmed for Friday.\n\nBest,\nDr Lee's office",
    ),
    (
        "virus_scan_footer",
        "Thanks, received.\n\n"
        "This email has been checked for viruses by Avast antivirus software.\n"
        "www.avast.com\n",
        "Thanks, received.",
    ),
    (
        "sentence_starting_with_on_is_kept",
        "On Monday we open at 9, not 10.\n"
        "On 5 May we are closed all day.\n"
        "I'll be there -- promise.\n\n"
        "From: the front desk\n",
        "On Monday we open at 9, not 10.\n"
        "On 5 May we are closed all day.\n"
        "I'll be there -- promise.\n\n"
        "From: the front desk",
    ),
    (
        "short_writer_rule_is_kept",
        "Prices:\n---\nCut 20\nColour 45\n***\nThanks\n",
        "Prices:\n---\nCut 20\nColour 45\n***\nThanks",
    ),
    (
        "inline_reply_keeps_quotes",
        "Hi Tom,\n\nOn Mon, 3 Mar 2025 at 18:02, SMS Bridge <r@sms.example.com> wrote:\n"
        "> Do you deliver to Leeds?\n\nYes, on Thursdays.\n\n> How much?\n\nFive pounds.\n",
        "Hi Tom,\n\n> Do you deliver to Leeds?\n\nYes, on Thursdays.\n\n"
        "> How much?\n\nFive pounds.",
    ),
    (
        "bottom_posted_reply",
        "On Mon, 3 Mar 2025 at 18:02, SMS Bridge <r@sms.example.com> wrote:\n"
        "> Do you deliver to Leeds?\n\nYes, on Thursdays.\n",
        "Yes, on Thursdays.",
    ),
    (
        "czech_thunderbird_and_heading_underline",
        "Nové ceny\n==========\nStřih 300 Kč\n\n"
        "Dne 03.03.2025 v 18:02 SMS Bridge napsal(a):\n> Kolik stojí střih?\n",
        "Nové ceny\n==========\nStřih 300 Kč",
    ),
    (
        "address_in_a_sentence_is_not_a_header",
        "I met Bob <bob@example.com> and he wrote:\nall good, ship it\n",
        "I met Bob <bob@example.com> and he wrote:\nall good, ship it",
    ),
    (
        "forward_with_nothing_above_keeps_the_forwarded_text",
        "---------- Forwarded message ---------\nFrom: Anna <anna@shop.example.com>\n"
        "Date: Mon, 3 Mar 2025 at 18:02\nSubject: Delivery\nTo: <desk@shop.example.com>\n\n\n"
        "Delivery is on Thursday.\n",
        "Delivery is on Thursday.",
    ),
    (
        "crlf_and_trailing_spaces",
        "Line one   \r\nLine two\t\r\n\r\n\r\n",
        "Line one\nLine two",
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [pytest.param(body, expected, id=name) for name, body, expected in TRIMMED_CASES],
)
def test_trimmed_replies(body: str, expected: str) -> None:
    assert extract_reply_text(body) == ExtractedReply(expected, "trimmed")


# --- the marker ------------------------------------------------------------------------------


def test_marker_on_its_own_line_cuts_everything_below() -> None:
    body = "Yes, 3pm is fine.\n##\nJane Smith\nSmith & Co Plumbing\nCall 01632 960000\n"
    assert extract_reply_text(body) == ExtractedReply("Yes, 3pm is fine.", "marker")


def test_marker_mid_line() -> None:
    body = "Running 10 minutes late ## sorry, typed on the train\nSent from my iPhone\n"
    assert extract_reply_text(body) == ExtractedReply("Running 10 minutes late", "marker")


def test_marker_keeps_lines_the_trimmer_would_cut() -> None:
    # The writer decides where the SMS ends: their "--" line above the marker stays.
    body = "Price list:\n--\nCut 20, colour 45 ##\n\nOn Mon, 3 Mar 2025, Bob wrote:\n> ?\n"
    expected = ExtractedReply("Price list:\n--\nCut 20, colour 45", "marker")
    assert extract_reply_text(body) == expected


def test_marker_below_bottom_posted_quote() -> None:
    body = (
        "On Mon, 3 Mar 2025 at 18:02, SMS Bridge <r@sms.example.com> wrote:\n"
        "> Can I come at 3?\n\nYes, 3 is fine ##\n-- \nBob\n"
    )
    assert extract_reply_text(body) == ExtractedReply("Yes, 3 is fine", "marker")


def test_marker_in_quoted_history_is_not_the_writers() -> None:
    body = (
        "We open at 9.\n\nOn Mon, 3 Mar 2025 at 18:02, SMS Bridge <r@sms.example.com> wrote:\n"
        "> Reply above this line. End your text with ## to cut your signature.\n"
    )
    assert extract_reply_text(body) == ExtractedReply("We open at 9.", "trimmed")


def test_marker_in_unquoted_outlook_history_is_not_the_writers() -> None:
    body = (
        "We open at 9.\n\nFrom: SMS Bridge <r@sms.example.com>\nSent: Monday\nTo: shop\n"
        "Subject: SMS\n\nEnd your text with ## to cut your signature.\n"
    )
    assert extract_reply_text(body) == ExtractedReply("We open at 9.", "trimmed")


def test_longer_hash_runs_are_not_the_marker() -> None:
    body = "Use the code below:\n```\n#### header\n# comment\n```\nThanks"
    assert extract_reply_text(body) == ExtractedReply(body, "trimmed")
    assert MARKER == "##"


# --- HTML -----------------------------------------------------------------------------------


def test_html_gmail_reply() -> None:
    html = (
        '<html><head><style>p{color:red}</style></head><body><div dir="ltr">'
        "Yes, we&#39;re open<div><br></div><div>Anna&nbsp;&amp; Co</div></div><br>"
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Mon, 3 Mar 2025 at '
        "18:02, SMS Bridge &lt;r@sms.example.com&gt; wrote:<br></div><blockquote "
        'class="gmail_quote" style="margin:0px">Are you open?</blockquote></div>'
        "<script>alert(1)</script></body></html>"
    )
    assert html_to_text(html) == "Yes, we're open\n\nAnna & Co"
    assert extract_reply_text(html_to_text(html)).text == "Yes, we're open\n\nAnna & Co"


def test_html_outlook_reply_stops_at_divrplyfwdmsg() -> None:
    html = (
        '<html><body><div class="elementToProof">Confirmed for Friday.</div>'
        '<div id="appendonsend"></div><hr style="display:inline-block;width:98%">'
        '<div id="divRplyFwdMsg" dir="ltr"><b>From:</b> SMS Bridge<br><b>Sent:</b> Monday'
        "</div><div>Can I come Friday?</div></body></html>"
    )
    assert html_to_text(html) == "Confirmed for Friday."


def test_html_outlook_desktop_paragraphs_and_header_block() -> None:
    html = (
        '<p class="MsoNormal">See you at 4.<o:p></o:p></p>'
        '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
        '<p class="MsoNormal">Tom<o:p></o:p></p>'
        '<div style="border:none;border-top:solid #E1E1E1 1.0pt"><p class="MsoNormal">'
        "<b>From:</b> SMS Bridge &lt;r@sms.example.com&gt;<br><b>Sent:</b> 03 March 2025 18:02"
        "<br><b>To:</b> Tom<br><b>Subject:</b> SMS<o:p></o:p></p></div>"
        '<p class="MsoNormal">4pm ok?</p>'
    )
    text = html_to_text(html)
    assert text.startswith("See you at 4.\n\nTom\nFrom: SMS Bridge <r@sms.example.com>")
    assert extract_reply_text(text).text == "See you at 4.\n\nTom"


def test_html_apple_yahoo_thunderbird_quotes_are_dropped() -> None:
    apple = 'OK<div><br><blockquote type="cite"><div>On 3 Mar, X wrote:</div>hi</blockquote></div>'
    yahoo = 'Fine <div class="yahoo_quoted"><div>On Monday, X wrote:</div><div>hi</div></div>'
    thunderbird = (
        '<p>Done</p><div class="moz-cite-prefix">On 03/03/2025 18:02, X wrote:<br></div>'
        '<blockquote type="cite" cite="mid:1@x">hi</blockquote>'
    )
    assert html_to_text(apple) == "OK"
    assert html_to_text(yahoo) == "Fine"
    assert html_to_text(thunderbird) == "Done"


def test_html_plain_blockquote_is_writer_indentation_and_pre_keeps_spaces() -> None:
    html = (
        '<div>Steps:</div><blockquote style="margin:0 0 0 40px">one</blockquote>'
        "<pre>a  b\n  c</pre><ul><li>x</li><li>y</li></ul>"
    )
    assert html_to_text(html) == "Steps:\none\na  b\n  c\n- x\n- y"


# --- format=flowed ----------------------------------------------------------------------------


def test_unflow_joins_soft_breaks_and_unstuffs() -> None:
    flowed = "This is a long \nparagraph that \nflows.\n From the start\nfixed"
    assert unflow(flowed, delsp=False) == (
        "This is a long paragraph that flows.\nFrom the start\nfixed"
    )


def test_unflow_delsp_removes_the_soft_break_space() -> None:
    assert unflow("Verbin \ndung", delsp=True) == "Verbindung"
    assert unflow("Verbin \ndung", delsp=False) == "Verbin dung"


def test_unflow_quotes_and_signature() -> None:
    flowed = "> quoted \n> text\n>> deeper \nnot joined\nBye \n-- \nSam"
    assert unflow(flowed, delsp=False) == "> quoted text\n>> deeper \nnot joined\nBye \n-- \nSam"


def test_unflow_then_extract() -> None:
    flowed = (
        "Yes we can fit \nyou in.\n\nOn Mon, 3 Mar 2025 at 18:02, X <x@y.example> \nwrote:\n> ok?"
    )
    assert extract_reply_text(unflow(flowed, delsp=False)).text == "Yes we can fit you in."


# --- the corpus -----------------------------------------------------------------------------


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("reply_corpus", REPO / "bench/reply_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def test_corpus_score() -> None:
    if not (CORPUS / "emails").is_dir():
        pytest.skip(f"reply-trimming corpus not present at {CORPUS}")
    bench = _load_bench()
    results = bench.score_corpus(CORPUS)
    assert len(results) >= 60
    misses = [result.name for result in results if not result.exact]
    assert bench.exact_ratio(results) >= 0.95, misses
