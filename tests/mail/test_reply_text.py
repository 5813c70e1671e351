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


# Issue 11: classes of misses on mail nobody here tuned for. Our own examples, several languages
# per class; each list ends with look-alikes that are the writer's text and must stay.

HEADER_BLOCK_CASES: list[tuple[str, str, str]] = [
    (
        "fr_colon_glued_to_value",
        "Merci, c'est réglé.\n\nDe :Paul Girard <paul.girard@example.fr>\n"
        "Envoyé :lundi 10 mars 2025 11:40\nÀ :Atelier Girard\nObjet :Devis\n\n"
        "Pouvez-vous confirmer le devis ?\n",
        "Merci, c'est réglé.",
    ),
    (
        "es_space_before_colon_and_enviado_el",
        "Confirmado.\n\nDe : Marta Ruiz <marta.ruiz@example.es>\nEnviado el : lunes, 10 de "
        "marzo de 2025 11:40\nPara : Taller\nAsunto : Cita\n\n¿Me confirma la cita?\n",
        "Confirmado.",
    ),
    (
        "de_no_space_after_colon",
        "Erledigt.\n\nVon:Paul Berger <paul.berger@example.de>\nGesendet:Montag, 10. März 2025 "
        "11:40\nAn:Werkstatt\nBetreff:Termin\n\nGeht Montag?\n",
        "Erledigt.",
    ),
    (
        "unknown_field_above_the_block",
        "Ja, klopt.\n\nNamens: Fietsatelier <info@atelier.example.nl>\nVan: Joost Smit "
        "<joost.smit@example.nl>\nVerzonden: maandag 10 maart 2025 11:40\nAan: Atelier\n"
        "Onderwerp: Offerte\n\nKlopt de offerte?\n",
        "Ja, klopt.",
    ),
    (
        "unknown_field_inside_the_block",
        "Sí.\n\nDe: Marta Ruiz <marta.ruiz@example.es>\nEnviado: lunes, 10 de marzo de 2025 "
        "11:40\nPara: Taller\nImportancia: Alta\nAsunto: Cita\n\n¿Mañana?\n",
        "Sí.",
    ),
    (
        "greek_outlook",
        "Ναι, είναι έτοιμο.\n\nΑπό: Γιώργος Νικολάου <giorgos@example.gr>\n"  # noqa: RUF001
        "Στάλθηκε: Δευτέρα, 10 Μαρτίου 2025 11:40 πμ\nΠρος: Συνεργείο\nΘέμα: Ποδήλατο\n\n"  # noqa: RUF001
        "Είναι έτοιμο;\n",
        "Ναι, είναι έτοιμο.",  # noqa: RUF001
    ),
    (
        "korean_outlook",
        "네, 가능합니다.\n\n보낸 사람: 이준호 <junho.lee@example.kr>\n"
        "보낸 날짜: 2025년 3월 10일 월요일 오전 11:40\n받는 사람: 정비소\n제목: 예약\n\n"
        "가능한가요?\n",
        "네, 가능합니다.",
    ),
    (
        "from_with_address_and_one_more_field",
        "Sorted, thanks.\n\nFrom: Paul Grant <paul.grant@example.com>\n"
        "Sent: 10 March 2025 11:40\n\nCould you check the invoice?\n",
        "Sorted, thanks.",
    ),
    (
        "whole_block_on_one_line",
        "Noted.\n\nFrom: Paul Grant <paul.grant@example.com> Sent: Monday, March 10, 2025 11:40 "
        "AM To: desk@example.org Subject: Invoice\n\nCould you check it?\n",
        "Noted.",
    ),
    (
        "writer_from_to_lines_without_address_stay",
        "Closed for stocktaking:\nFrom: Monday 10 March\nTo: Wednesday 12 March\n",
        "Closed for stocktaking:\nFrom: Monday 10 March\nTo: Wednesday 12 March",
    ),
    (
        "writer_letter_subject_line_stays",
        "Objet : votre devis 2291\n\nIl est accepté, merci.\n",
        "Objet : votre devis 2291\n\nIl est accepté, merci.",
    ),
    (
        "writer_contact_lines_stay",
        "Reach us here:\nEmail: desk@example.org\nPhone: 01632 960777\nOpen: 9:00-17:00\n",
        "Reach us here:\nEmail: desk@example.org\nPhone: 01632 960777\nOpen: 9:00-17:00",
    ),
]

SEPARATOR_CASES: list[tuple[str, str, str]] = [
    (
        "turkish",
        "Tamam.\n\n-----Özgün İleti-----\nKimden: Can Aydın [mailto:can@example.com.tr]\n"  # noqa: RUF001
        "Gönderildi: 10 Mart 2025 Pazartesi 11:40\nKime: Servis\nKonu: Randevu\n\nUygun mu?\n",
        "Tamam.",
    ),
    (
        "greek_title_then_english_fields",
        "Εντάξει.\n\n-----Αρχικό μήνυμα-----\nFrom: Giorgos <giorgos@example.gr>\n"
        "Sent: Monday, March 10, 2025 11:40 AM\nTo: Desk\nSubject: Booking\n\nOK?\n",
        "Εντάξει.",
    ),
    (
        "korean_chinese_japanese_titles",
        "好的。\n\n-----原始邮件-----\n发件人: 陈静 <chen.jing@example.cn>\n"
        "发送时间: 2025年3月10日 11:40\n收件人: 车行\n主题: 预约\n\n可以吗？\n",  # noqa: RUF001
        "好的。",
    ),
    (
        "slovak",
        "Áno.\n\n-----Pôvodná správa-----\nOd: Marek Kováč <marek@example.sk>\n"
        "Odoslané: pondelok 10. marca 2025 11:40\nKomu: Servis\nPredmet: Termín\n\nHodí sa?\n",
        "Áno.",
    ),
    (
        "unlisted_language_title_above_a_header_block",
        "Já, takk.\n\n-----Upprunaleg skilaboð-----\nFrom: Jón Jónsson <jon@example.is>\n"
        "Sent: Monday, March 10, 2025 11:40 AM\nTo: Desk\nSubject: Booking\n\nOK?\n",
        "Já, takk.",
    ),
    (
        "writer_framed_heading_stays",
        "----- Prices -----\nCut 20\nColour 45\n",
        "----- Prices -----\nCut 20\nColour 45",
    ),
]

HARD_WRAPPED_QUOTE_CASES: list[tuple[str, str, str]] = [
    (
        "english_lowercase_tail_at_the_end",
        "Yes, Friday works.\n\nOn Mon, 10 Mar 2025 at 11:40, Paul Grant <paul@example.com> "
        "wrote:\n\n> Hi, I was wondering whether you could fit in a wheel truing on Friday or\n"
        "whether the workshop is already fully booked that week.\n",
        "Yes, Friday works.",
    ),
    (
        "german_capitalised_tail_between_quoted_lines",
        "Ja, das geht.\n\nAm 10.03.2025 um 11:40 schrieb Paul Berger <paul@example.de>:\n"
        "> Guten Tag, könnten Sie am Freitag noch das Hinterrad zentrieren, oder ist\n"
        "Ihre Werkstatt in dieser Woche schon ausgebucht?\n> Danke, Paul\n",
        "Ja, das geht.",
    ),
    (
        "french_tail_over_several_lines",
        "Oui, vendredi.\n\nLe 10 mars 2025 à 11:40, Paul Girard <paul@example.fr> a écrit :\n"
        "> Bonjour, serait-il possible de passer vendredi pour régler les freins et le\n"
        "dérailleur arrière, ou bien l'atelier est-il déjà complet cette semaine, auquel\n"
        "cas je viendrai lundi prochain ?\n",
        "Oui, vendredi.",
    ),
    (
        "capitalised_answer_under_a_long_quoted_question_stays",
        "> Could you let me know whether the green frame in the large size is in stock\n"
        "Yes, two left.\n",
        "> Could you let me know whether the green frame in the large size is in stock\n"
        "Yes, two left.",
    ),
    (
        "lowercase_answer_under_a_short_quoted_line_stays",
        "> Friday ok?\nyes, after 2\n",
        "> Friday ok?\nyes, after 2",
    ),
]

ATTRIBUTION_CASES: list[tuple[str, str, str]] = [
    (
        "swedish_weekday_with_dot_unquoted_history",
        "Den är klar.\n\ntors. 6 mars 2025 kl. 18:02 skrev Per Ek <per.ek@example.se>:\n\n"
        "Är den klar?\n\nPer\n",
        "Den är klar.",
    ),
    (
        "norwegian_weekday_with_dot",
        "Passer fint.\n\nfre. 7. mar. 2025 kl. 08:30 skrev Kari Lie <kari.lie@example.no>:\n"
        "> Passer fredag?\n",
        "Passer fint.",
    ),
    (
        "danish_weekday_with_dot_over_two_lines",
        "Ja tak.\n\nons. 5. mar. 2025 kl. 12.10 skrev Lars Bech\n<lars.bech@example.dk>:\n\n"
        "> Skal jeg komme i morgen?\n",
        "Ja tak.",
    ),
    (
        "finnish_weekday_without_dot",
        "Sopii.\n\nti 4. maalisk. 2025 klo 9.15 Aino Laine (<aino.laine@example.fi>) "
        "kirjoitti:\n\n> Sopiiko tiistai?\n",
        "Sopii.",
    ),
    (
        "english_wrapped_over_two_lines",
        "Done.\n\nOn Mon, 10 Mar 2025 at 11:40, Paul Grant of the Northside Cycling\n"
        "Club <paul.grant@example.com> wrote:\n\n> Is it done?\n",
        "Done.",
    ),
    (
        "english_wrote_without_colon_unquoted_history",
        "See you then.\n\nOn Mon, 10 Mar 2025 at 11:40, Paul Grant <paul@example.com> wrote\n\n"
        "Can I come at 4?\n",
        "See you then.",
    ),
    (
        "german_schrieb_name_without_colon",
        "Gerne.\n\nAm 10.03.2025 um 11:40 schrieb Paul Berger <paul@example.de>\n\nGeht 16 Uhr?\n",
        "Gerne.",
    ),
    (
        "spanish_escribio_without_colon",
        "Claro.\n\nEl 10 mar 2025, a las 11:40, Marta Ruiz <marta@example.es> escribió\n"
        "> ¿A las 16?\n",
        "Claro.",
    ),
    (
        "name_wrote_date_above_a_quote",
        "Kyllä.\n\nAino Laine kirjoitti 10.3.2025 klo 11.40:\n> Onko auki?\n",
        "Kyllä.",
    ),
    (
        "writer_line_above_a_blank_and_an_attribution_stays",
        "Prices below.\n\nOn Monday we open at 9, not 10.\n\n"
        "On Mon, 10 Mar 2025 at 11:40, Paul Grant <paul@example.com> wrote:\n> Hours?\n",
        "Prices below.\n\nOn Monday we open at 9, not 10.",
    ),
    (
        "name_wrote_date_without_a_quote_stays",
        "Aino Laine kirjoitti 10.3.2025 klo 11.40:\nhyvä, kiitos\n",
        "Aino Laine kirjoitti 10.3.2025 klo 11.40:\nhyvä, kiitos",
    ),
]

SIGNATURE_CASES: list[tuple[str, str, str]] = [
    (
        "outlook_android_german",
        "Klar.\n\nOutlook für Android<https://aka.ms/AAb9ysg> herunterladen\n",
        "Klar.",
    ),
    (
        "outlook_ios_japanese",
        "了解です。\n\niOS 版 Outlook<https://aka.ms/o0ukef> を入手\n",
        "了解です。",
    ),
    (
        "outlook_android_polish_no_link",
        "Dobrze.\n\nPobierz aplikację Outlook dla systemu Android\n",
        "Dobrze.",
    ),
    ("korean_sent_from", "좋아요.\n\n나의 iPhone에서 보냄\n", "좋아요."),
    ("turkish_sent_from", "Olur.\n\niPhone'umdan gönderildi\n", "Olur."),
    ("greek_sent_from", "Εντάξει.\n\nΣτάλθηκε από το iPhone μου\n", "Εντάξει."),
    (
        "a_sentence_about_outlook_on_android_stays",
        "The Outlook app on Android shows it fine, thanks.\n",
        "The Outlook app on Android shows it fine, thanks.",
    ),
]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(body, expected, id=f"{group}-{name}")
        for group, cases in (
            ("header", HEADER_BLOCK_CASES),
            ("separator", SEPARATOR_CASES),
            ("hardwrap", HARD_WRAPPED_QUOTE_CASES),
            ("attribution", ATTRIBUTION_CASES),
            ("signature", SIGNATURE_CASES),
        )
        for name, body, expected in cases
    ],
)
def test_issue_11_classes(body: str, expected: str) -> None:
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
    assert [result.name for result in results if result.cut_too_much] == []


@pytest.mark.parametrize("split", ["dev", "heldout"])
def test_client_formats_score(split: str) -> None:
    # Our own set (tests/mail/reply_sets/client_formats): at least 95% exact on each split,
    # and never a reply that loses the writer's text.
    bench = _load_bench()
    items = bench.load_client_formats()[split]
    results = bench.score_items(items)
    assert len(results) >= 100
    misses = [result.name for result in results if not result.exact]
    assert bench.exact_ratio(results) >= 0.95, misses
    assert [result.name for result in results if result.cut_too_much] == []
