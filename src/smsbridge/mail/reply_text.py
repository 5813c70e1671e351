"""Turn the body of a business's email reply into the text of the SMS sent back (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from html.parser import HTMLParser

__all__ = ["MARKER", "ExtractedReply", "extract_reply_text", "html_to_text", "unflow"]

MARKER = "##"


@dataclass(frozen=True)
class ExtractedReply:
    """The SMS text found in a reply, and which rule found it."""

    text: str
    method: str  # "marker" | "trimmed"


# --------------------------------------------------------------------------------------------
# Line-level patterns
# --------------------------------------------------------------------------------------------

# A marker is exactly two "#": longer runs ("####") are code comments or decoration.
_MARKER_RE = re.compile(rf"(?<!#){re.escape(MARKER)}(?!#)")

# "> text" in every client, and Supercite/Gnus "JD> text" (initials or a short name).
_QUOTE_RE = re.compile(r"^[ \t]*(?:>|[A-Za-z]{1,12}>(?=[ \t>]|$))")
_DEQUOTE_RE = re.compile(r"^[ \t]*(?:[A-Za-z]{1,12})?>[ \t]?")

# "-- " is the standard signature separator; many clients drop its trailing space.
_SIGNATURE_DASHES_RE = re.compile(r"^--[ \t]*$")

# Rules drawn by clients (Outlook's underscores, <hr> rendered as dashes). Ten characters
# keeps a writer's own short "---" or "***" section break.
_SEPARATOR_RE = re.compile(r"^[ \t]*[-_=~*+]{10,}[ \t]*$")

# "-----Original Message-----", "---------- Forwarded message ---------" and translations.
_FRAMED_TITLE_RE = re.compile(r"^[ \t*_]*-{2,}[ \t]*(?P<title>[^-\s].{0,80}?)[ \t]*-{2,}[ \t*_]*$")
_HISTORY_TITLE_RE = re.compile(
    r"original|forward|ursprüngl|weitergeleitet|nachricht|messag|mensaj|mensag|bericht|meddel"
    r"|melding|wiadomo|zpráv|сообщени|повідомлен|viesti|üzenet|mesaj|reenvi|encaminh|inoltr"
    r"|transf[eé]r|doorgestuur|vidarebefordr|videresend|ileti|ursprung|oprindelig|opprinnelig"
    r"|alkuperäi|izvorn|poruka|sporočil|pôvodn|správ|съобщени|pranešim|algsõnum|ziņojum"
    r"|αρχικό|μήνυμα|προωθ|thư gốc|pesan asli|missatge|הודעה|الرسالة|ข้อความ"
    r"|元のメッセージ|転送|原始邮件|原始郵件|转发|轉寄|원본 메시지|전달",
    re.IGNORECASE,
)
# Apple Mail's forward introduction, in the languages it ships.
_BEGIN_FORWARD_RE = re.compile(
    r"^[ \t]*(?:begin forwarded message|anfang der weitergeleiteten (?:nachricht|e-mail)"
    r"|début du message (?:réexpédié|transféré)|inizio messaggio inoltrato"
    r"|(?:comienzo|inicio) del mensaje reenviado|begin doorgestuurd bericht"
    r"|início da mensagem (?:re)?encaminhada|vidarebefordrat (?:brev|meddelande)"
    r"|videresendt (?:besked|meddelelse|melding)|początek przekazywanej wiadomości"
    r"|začátek přeposlané zprávy|начало пересылаемого сообщения)[ \t]*:?[ \t]*$",
    re.IGNORECASE,
)

# Streak/Mixmax put a lone "ᐧ" (U+1427) where their tracking pixel sits: never text.
_JUNK_LINE_RE = re.compile(r"^[\s\-_=~*+#\u1427]*$")

# --------------------------------------------------------------------------------------------
# Attribution lines: "On <date>, <name> wrote:" and the forms other clients and languages use
# --------------------------------------------------------------------------------------------

_VERBS = (
    r"wrote|writes|schrieb|a\s+écrit|a\s+ecrit|escribió|escribio|ha\s+escrito|ha\s+scritto"
    r"|scrive|schreibt|schreef|geschreven|escreveu|skrev|napisał\(a\)|napisała|napisał|napisal"
    r"|pisze|napsal\(a\)|napsala|napsal|píše|napísal\(a\)|napísal|написал\(а\)|написала"  # noqa: RUF001
    r"|написал|пишет|пише|написав|kirjoitti|ezt\s+írta|írta|şunu\s+yazdı|şunları\s+yazdı|yazdı"  # noqa: RUF001
    r"|a\s+scris|napisao\s+je|napisao|έγραψε|va\s+escriure|đã\s+viết|menulis"
)
# Chinese, Japanese and Korean put the verb right after the name or the date, with no space.
_CJK_VERBS = r"写道|寫道|書きました|のメール|작성"
# The verb, then (for "schrieb Max <m@x>:" or "schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:")
# a short tail, then the colon that ends every attribution; Zoho frames it in dashes instead.
_VERB_END_RE = re.compile(
    rf"(?:(?<!\w)(?:{_VERBS})(?!\w)|{_CJK_VERBS})(?:\s.{{0,120}}?)?\s*(?:[:\uff1a]|-{{2,}})\s*$",
    re.IGNORECASE,
)
# "On ... Name <a@b.c> wrote" with the colon lost (a relay, a client in some languages): the
# verb (or, in German word order, "schrieb Name <address>") ends the line. Only trusted with
# an address or a full date and time, see below.
_VERB_NO_COLON_END_RE = re.compile(
    rf"(?<!\w)(?:{_VERBS})(?:\s[^<>:]{{0,80}}<[^<>\s]*@[^<>]*>)?\s*$", re.IGNORECASE
)
# "Liisa Virtanen kirjoitti 4.3.2025 klo 9.15:", "Bob wrote on 04/03/2025 09:15:": a short name,
# the verb, then the date (Thunderbird's "#1 wrote on #2 #3:" and Finnish clients).
_NAME_VERB_DATE_RE = re.compile(
    rf"^[^\W\d_][^\s:<>]*(?:\s[^\s:<>]+){{0,3}}\s(?:{_VERBS})(?!\w)[^:]{{0,40}}"
    r"(?:19|20)\d\d[^:]{0,20}\d{1,2}[:.]\d\d\s*[:\uff1a]\s*$",
    re.IGNORECASE,
)
_OPENER_RE = re.compile(
    r"^(?:on|at|am|den|le|el|il|op|em|às|no dia|dnia|w dniu|dne|dňa|på|στις|vào|pada|在)\s",
    re.IGNORECASE,
)
# "понедельник, 6 октября ...", "wt., 4 mar 2025 ...", "tors. 3 mars 2025 kl. 18:02 ...",
# "ti 4. maalisk. 2025 ...": a weekday (abbreviated, with a dot or a comma), then the date.
_WEEKDAY_START_RE = re.compile(r"^[^\W\d_]{2,15}(?:\.,?|,)\s*\d|^[^\W\d_]{2,3}\s+\d")
# Gmail's numeric form: "2016-10-24 15:36 GMT+02:00 Name <a@b.c>:", "2013/7/20 Name <a@b.c>".
_YEAR_FIRST_RE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)")
_YEAR_RE = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_TIME_RE = re.compile(r"(?<!\d)\d{1,2}:\d\d(?!\d)")
_ANY_TIME_RE = re.compile(r"(?<!\d)\d{1,2}[:.]\d\d(?![\d.])")
_GMT_RE = re.compile(r"\bGMT[+-]\d")
_ANY_EMAIL_RE = re.compile(r"\w[\w.+-]*@[\w-]+(?:\.[\w-]+)+")
# "Name <address> wrote:" (Gmail in most languages): the verb follows the address directly;
# Chinese and Japanese put the date in between ("<a@b.c> 于2025年3月4日 10:15写道").
_NAME_ADDRESS_VERB_RE = re.compile(
    rf"^[^<>]{{1,80}}?(?:<[^<>\s]*@[^<>]*>|\(<?[^()\s]*@[^()\s]*>?\)|\[mailto:[^\]]+\])"
    rf"\s*(?:(?:{_VERBS})(?!\w)|[^A-Za-z<>]{{0,40}}(?:{_CJK_VERBS}))",
    re.IGNORECASE,
)
# Apple Mail in Polish: "Wiadomość napisana przez X <a@b.c> w dniu 04.03.2025, o godz. 10:15:"
_MESSAGE_WRITTEN_BY_RE = re.compile(
    r"^wiadomość napisana przez .{1,200}[:\uff1a]\s*$", re.IGNORECASE
)
# An attribution wraps across an empty line only inside an address ("Name <" / "" / "a@b>").
_OPEN_ADDRESS_END_RE = re.compile(r"[<(\[]\s*$")
_ADDRESS_START_RE = re.compile(r"^(?:[<(\[]|mailto:|\w[\w.+-]*@)", re.IGNORECASE)
_EMAIL_COLON_END_RE = re.compile(r"<[^<>]*@[^<>]*>\s*[:\uff1a]\s*$")
_EMAIL_END_RE = re.compile(r"<[^<>]*@[^<>]*>\s*[:\uff1a]?\s*$")
_LEADING_FRAME_RE = re.compile(r"^[-*_\s]+")
_ATTRIBUTION_MAX_LINES = 5
_ATTRIBUTION_MAX_CHARS = 400
_QUOTED_TAIL_MAX_CHARS = 20

# Hard-wrapped quotes: clients wrap at 72 to 80 columns; a quoted line the client broke is at
# least this full, and the tail of one long paragraph runs over a few lines at most.
_WRAPPED_LINE_MIN = 66
_WRAP_WIDTH_MAX = 80
_WRAPPED_TAIL_MAX_LINES = 8
_SENTENCE_END = ".?!:;…。？！"  # noqa: RUF001

# --------------------------------------------------------------------------------------------
# Header blocks (Outlook, forwards): "From:" plus at least two of Sent/To/Cc/Subject/...
# --------------------------------------------------------------------------------------------

# "Label: value", with the colon glued to either side or spaced ("Objet :x", "Von:Anna",
# "De : Luc"), bold markup around the label, and a full-width colon in Chinese and Japanese.
_HEADER_KEY_RE = re.compile(
    r"^[ \t]*[*_]{0,2}(?P<key>[^\W\d_][^:\uff1a\n]{0,30}?)[ \t\u00a0]*[*_]{0,2}"
    r"[ \t\u00a0]*[:\uff1a][*_]{0,2}(?P<value>.*)$"
)
# Several fields on one line, as when a gateway flattens Outlook's HTML header block.
_INLINE_KEY_RE = re.compile(r"(?:^|\s)([^\W\d_][\w.'’-]*(?:\s[^\W\d_][\w.'’-]*){0,2})\s?[:\uff1a]")  # noqa: RUF001
# An unknown label still counts inside a header block if it is this short ("Importance",
# "Envoyé par"): a field name, not the start of a sentence.
_UNKNOWN_LABEL_MAX_WORDS = 3


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Field names as Outlook, Apple Mail, Gmail and webmails print them in each language
# (casefolded). Outlook's own list is the reference: the languages it ships.
_HEADER_KINDS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "from",
        _words(
            "from von de da van från fra od от від lähettäjä feladó kimden afzender absender"
            " expéditeur remitente mittente 发件人 寄件者 寄件人 差出人 από šalje nuo saatja dari"
            " מאת من จาก"
        )
        | {"보낸 사람", "de la", "từ"},
    ),
    (
        "date",
        _words(
            "sent date gesendet datum envoyé enviado enviada data inviato verzonden verstuurd"
            " skickat sendt wysłano wysłane odesláno отправлено дата надіслано lähetetty"
            " päivämäärä elküldve dátum gönderildi tarih fecha 发送时间 日期 送信日時 寄件日期"
            " 날짜 στάλθηκε ημερομηνία trimis poslano odoslané изпратено išsiųsta saadetud"
            " dikirim נשלח ส่ง"
        )
        | {
            "enviado el",
            "enviada em",
            "enviado em",
            "envoyé le",
            "inviato il",
            "enviat el",
            "date d'envoi",
            "보낸 날짜",
            "đã gửi",
            "تم الإرسال",
        },
    ),
    (
        "to",
        _words(
            "to an à a para aan till til do komu кому vastaanottaja címzett kime destinataire"
            " destinatario destinatário 收件人 收件者 宛先 προς către prima до kam adressaat"
            " kepada bis אל إلى ถึง"
        )
        | {"받는 사람", "per a", "đến"},
    ),
    (
        "cc",
        _words("cc kopie copie cópia kopia копия копія kopio másolat bilgi kopi dw 抄送 副本 참조")
        | {"kopie an", "copie à", "másolatot kap", "κοιν.", "κοιν", "kópia"},
    ),
    (
        "subject",
        _words(
            "subject betreff objet asunto oggetto assunto onderwerp ämne emne temat předmět тема"
            " aihe tárgy konu sujet 主题 主旨 件名 제목 θέμα subiect predmet zadeva tema teema"
            " tēma subjek assumpte נושא الموضوع ชื่อเรื่อง"
        )
        | {"chủ đề"},
    ),
    ("reply-to", frozenset({"reply-to", "risposta", "antwort an", "répondre à", "responder a"})),
)
_HEADER_BLOCK_MAX_LINES = 12
_HEADER_CONTINUATIONS = 2

# --------------------------------------------------------------------------------------------
# Signatures and footers
# --------------------------------------------------------------------------------------------

# "Sent from my iPhone" and its translations: an auto-signature phrase *and* a device or app
# name, so that "Sent from the warehouse this morning" stays in the SMS.
_SENT_FROM_RE = re.compile(
    r"^(?:sent (?:from|with|via|using|on|by|through)|from my(?: \S+){1,3}$|get outlook"
    r"|envoy[ée] (?:de|depuis|avec|par|à)"
    r"|von meine[mr]|gesendet (?:von|mit|vom|über)|diese nachricht wurde (?:von|mit)"
    r"|enviad[oa] (?:desde|con|de|do|da|pelo|pela|a partir)|inviat[oa] (?:da|dal|dall|con|tramite)"
    r"|(?:verzonden|verstuurd) (?:vanaf|met|van|via|vanuit)|sendt (?:fra|med|via)"
    r"|skickat (?:från|med|via)|wysłan[eoa] (?:z|ze|przez)|odesláno (?:z|ze|pomocí)"
    r"|отправлено (?:с|со|из|через)|надіслано (?:з|із|через)|lähetetty|elküldve"  # noqa: RUF001
    r"|(?:从|從|来自|來自|发自|發自)我的|.{1,30}から送信|.{1,30}에서 보냄"
    r"|.{1,40}['’]?[dt][ae]n gönderildi|στάλθηκε από|отправлено из)",  # noqa: RUF001
    re.IGNORECASE,
)
# Word starts ("Mobiltelefon", "的iPhone"), so that "excellent" is not a "cell".
_DEVICE_RE = re.compile(
    r"(?<![a-z])(?:iphon|ipad|ipod|android|mobil|móvil|movil|phone|smartphone|cell|celular|telemóvel"
    r"|telefon|teléfono|telefono|handy|smartfon|смартфон|телефон|tablet|device|appareil|gerät"
    r"|galaxy|samsung|huawei|pixel|nokia|motorola|htc|xiaomi|oneplus|blackberry|windows"
    r"|outlook|airmail|gmail|hotmail|yahoo|aol|proton|spark|superhuman|newton|edison"
    r"|thunderbird|ios|watch)|(?<![\w-])mail",
    re.IGNORECASE,
)
# Outlook's mobile apps sign "Get Outlook for iOS<https://aka.ms/o0ukef>" in every language
# ("Outlook für Android herunterladen", "iOS 版 Outlook を入手"): the app's name and its platform,
# with Microsoft's short link or in a few words without punctuation.
_OUTLOOK_APP_RE = re.compile(
    r"\boutlook\b.{0,40}\b(?:ios|android)\b|\b(?:ios|android)\b.{0,20}\boutlook\b", re.IGNORECASE
)
_MICROSOFT_LINK_RE = re.compile(r"https?://aka\.ms/", re.IGNORECASE)
_OUTLOOK_APP_MAX_WORDS = 6
# "Sent from my <anything short>" is an auto-signature even for a device we do not know.
_SENT_FROM_MY_RE = re.compile(r"^sent from my(?: [\w+.-]+){1,4}[ \t>)]*$", re.IGNORECASE)
_LINK_RE = re.compile(r"<https?://[^>]*>|\(https?://[^)]*\)|https?://\S+")
# Auto-signatures are short; a long line starting "Sent with ..." is a sentence.
_SENT_FROM_MAX_CHARS = 120
_SENT_FROM_MAX_WORDS = 10

# Legal disclaimers and virus-scan footers: recognised by phrases a person would not write
# in a reply to a customer, checked at the start of a paragraph.
_DISCLAIMER_RE = re.compile(
    r"confidentiality notice|^disclaimer\b|intended (?:solely |only )?for the (?:use of the )?"
    r"(?:addressee|named|individual|person|recipient)|if you (?:are not|have received this)"
    r".{0,80}(?:intended recipient|in error|by mistake)|^this (?:e-?mail|message|communication)"
    r"(?: message)?(?: and any (?:attachments?|files?)| \(including any attachments\))?"
    r".{0,60}(?:confidential|privileged)|virus[- ]free|(?:scanned|checked) for viruses"
    r"|^diese (?:e-?mail|nachricht)\b.{0,100}vertraulich|nicht der (?:richtige|beabsichtigte)"
    r" (?:adressat|empfänger)|^ce (?:message|courriel|mail|e-mail)\b.{0,100}confidentiel"
    r"|si vous n'êtes pas (?:le|la) destinataire|^este (?:mensaje|correo)\b.{0,100}confidencial"
    r"|^questo messaggio\b.{0,100}(?:riservat|confidenzial|analizzato)"
    r"|^dit (?:e-?mail)?bericht\b.{0,100}vertrouwelijk",
    re.IGNORECASE,
)
_DISCLAIMER_SCAN_CHARS = 400


# --------------------------------------------------------------------------------------------
# Classification: the body becomes a list of units, each one kind of content
# --------------------------------------------------------------------------------------------


class _Kind(Enum):
    BLANK = "blank"
    TEXT = "text"
    QUOTE = "quote"  # a run of quoted lines (with the blank lines inside it)
    ATTRIBUTION = "attribution"  # "On ... wrote:" (possibly wrapped over several lines)
    HISTORY = "history"  # header block, "Original Message", forward line, client rule
    SIGNATURE = "signature"  # "-- ", "Sent from my iPhone", a disclaimer paragraph


@dataclass(frozen=True)
class _Unit:
    kind: _Kind
    start: int  # index of the first line in the body
    lines: tuple[str, ...]


@dataclass(frozen=True)
class _Span:
    end: int
    anchored: bool  # starts with a date or an opener word, not just "Name <address> wrote:"
    needs_quote: bool = False  # a weaker form: only an attribution if a quote follows it


def _is_blank(line: str) -> bool:
    return not line.strip()


def _is_quote(line: str) -> bool:
    return _QUOTE_RE.match(line) is not None


_NOT_AN_ATTRIBUTION = (0, False)


def _attribution_strength(text: str) -> tuple[int, bool]:
    """(strength, needs_quote) of a window of lines joined with spaces.

    Strength 0: not an attribution; 1: Gmail's numeric form without a colon; 2: loose
    ("Name <address> wrote:"); 3: anchored (an opener word or a date first).
    """
    text = _LEADING_FRAME_RE.sub("", text)
    if not text or len(text) > _ATTRIBUTION_MAX_CHARS:
        return _NOT_AN_ATTRIBUTION
    dated = _YEAR_RE.search(text) is not None or _TIME_RE.search(text) is not None
    verb_end = _VERB_END_RE.search(text) is not None
    email_colon_end = _EMAIL_COLON_END_RE.search(text) is not None
    has_address = _ANY_EMAIL_RE.search(text) is not None
    if _YEAR_FIRST_RE.match(text):
        if email_colon_end or verb_end:
            return 3, False
        if _EMAIL_END_RE.search(text) or (_TIME_RE.search(text) and _GMT_RE.search(text)):
            return 1, False
    # A date or time (or an address) is required: "On Monday we wrote:" is a sentence.
    ends_like_attribution = verb_end or email_colon_end
    opener = _OPENER_RE.match(text) is not None
    date_first = text[0].isdigit() or _WEEKDAY_START_RE.match(text) is not None
    if ends_like_attribution and opener and (dated or has_address):
        return 3, False
    if ends_like_attribution and dated and date_first:
        return 3, False
    if _MESSAGE_WRITTEN_BY_RE.match(text) and dated:
        return 3, False
    # "wrote" that lost its colon: the rest must leave no doubt (an address, or a full date
    # and time), since "On Monday the council wrote" is a sentence.
    if (opener or date_first) and _VERB_NO_COLON_END_RE.search(text):
        full_date = _YEAR_RE.search(text) is not None and _ANY_TIME_RE.search(text) is not None
        if has_address or full_date:
            return 3, False
    # "Name <address> wrote:".
    starts_with_name = text[0].isalnum() or text[0] in "\"'"
    if verb_end and starts_with_name and _NAME_ADDRESS_VERB_RE.match(text):
        return 2, False
    # "Liisa Virtanen kirjoitti 4.3.2025 klo 9.15:" names no address, so it is trusted only
    # right above a quote.
    if _NAME_VERB_DATE_RE.match(text):
        return 2, True
    return _NOT_AN_ATTRIBUTION


def _window_goes_on(lines: list[str], parts: list[str], j: int) -> bool:
    """May an attribution window that has `parts` so far take in line j (blank or quoted)?"""
    line = lines[j].strip()
    if not line:
        # A client wraps an attribution across an empty line only inside an address
        # ("Name <" / "" / "mailto:a@b.c>"): anything else there ends a paragraph of text.
        following = next((later.strip() for later in lines[j + 1 :] if later.strip()), "")
        return bool(parts) and (
            _OPEN_ADDRESS_END_RE.search(parts[-1]) is not None
            or _ADDRESS_START_RE.match(following) is not None
        )
    if _is_quote(lines[j]):
        # Only a wrapped tail ("> wrote:") that some clients quote with the mail below.
        return len(_DEQUOTE_RE.sub("", lines[j], count=1).strip()) <= _QUOTED_TAIL_MAX_CHARS
    return True


def _attribution_span(lines: list[str], i: int) -> _Span | None:
    """The attribution starting at line i, preferring the shortest window that ends in ':'."""
    if _is_blank(lines[i]) or _is_quote(lines[i]):
        return None
    parts: list[str] = []
    weak: _Span | None = None
    for j in range(i, min(i + _ATTRIBUTION_MAX_LINES, len(lines))):
        if j > i and (_is_blank(lines[j]) or _is_quote(lines[j])):
            if not _window_goes_on(lines, parts, j):
                break
            if _is_blank(lines[j]):
                continue
            parts.append(_DEQUOTE_RE.sub("", lines[j], count=1).strip())
        else:
            parts.append(lines[j].strip())
        strength, needs_quote = _attribution_strength(" ".join(parts))
        if strength >= 2:
            return _Span(j + 1, anchored=strength == 3, needs_quote=needs_quote)
        if strength == 1 and weak is None:
            weak = _Span(j + 1, anchored=True)
    return weak


def _quote_follows(lines: list[str], end: int) -> bool:
    following = next((line for line in lines[end:] if not _is_blank(line)), None)
    return following is not None and _is_quote(following)


def _attribution_at(lines: list[str], i: int) -> int | None:
    """End of the attribution starting at line i, or None.

    An attribution starts at its own first line, not on the writer's last line above it: a
    window from "Thanks," or "On Monday we open at 9." down to the real "On ... wrote:" would
    also match. So a match only counts if no later line in its window starts an anchored
    attribution (for "Name <address> wrote:", which has no fixed first word, any attribution).
    """
    span = _attribution_span(lines, i)
    if span is None or (span.needs_quote and not _quote_follows(lines, span.end)):
        return None
    for later in range(i + 1, span.end):
        other = _attribution_span(lines, later)
        if other is not None and (other.anchored or not span.anchored):
            return None
    return span.end


def _kind_of_key(key: str) -> str | None:
    key = " ".join(key.casefold().split())
    for kind, names in _HEADER_KINDS:
        if key in names:
            return kind
    return None


@dataclass(frozen=True)
class _Field:
    kind: str | None  # None: a label we do not know ("Importance", "Envoyé par")
    words: int
    value: str


def _field(line: str) -> _Field | None:
    match = _HEADER_KEY_RE.match(line)
    if match is None or match.group("value").startswith("//"):
        return None  # not "Label: value", or a link ("https://...")
    key = match.group("key")
    return _Field(_kind_of_key(key), len(key.split()), match.group("value"))


def _has_address(text: str) -> bool:
    return _ANY_EMAIL_RE.search(text) is not None or "mailto:" in text.casefold()


def _inline_header(line: str) -> bool:
    """Is this one line a whole header block ("From: X <a@b> Sent: ... To: ... Subject: ...")?"""
    kinds: list[str] = []
    for match in _INLINE_KEY_RE.finditer(line):
        words = match.group(1).split()
        # The field name is the last one to three words before the colon.
        kind = next(
            (
                found
                for size in (1, 2, 3)
                if size <= len(words)
                and (found := _kind_of_key(" ".join(words[-size:]))) is not None
            ),
            None,
        )
        if kind is not None:
            kinds.append(kind)
    return bool(kinds) and kinds[0] == "from" and len(set(kinds)) >= 3 and _has_address(line)


def _header_block_end(lines: list[str], i: int) -> int | None:
    """End of a header block (the old mail's From/Sent/To/Subject) starting at line i.

    The block is a run of "Label: value" lines (and the wrapped tail of a long To or Subject
    line). It is old mail when it holds a From field and two more kinds of field, or a From
    field with an address and one more kind: the field names are known in the languages mail
    clients ship, the layout around them (spacing of the colon, order, an extra field the
    rules do not know, a field above the From line) is free.
    """
    first = _field(lines[i])
    if first is None:
        return None
    if first.kind is None:
        # An unknown label opens the block only where a client starts one: after a blank
        # line, a rule or the top of the body; never glued under the writer's own text.
        if first.words > _UNKNOWN_LABEL_MAX_WORDS or (
            i > 0 and not _is_blank(lines[i - 1]) and not _is_separator(lines, i - 1)
        ):
            return None
    elif _inline_header(lines[i]):
        return i + 1
    kinds: set[str] = set()
    known = unknown = 0
    from_address = False
    end = i
    continuations = 0
    previous_kind: str | None = None
    for j in range(i, min(i + _HEADER_BLOCK_MAX_LINES, len(lines))):
        line = lines[j]
        if _is_blank(line):
            break
        field = _field(line)
        if field is not None and field.kind is not None:
            kinds.add(field.kind)
            known += 1
            from_address = from_address or (field.kind == "from" and _has_address(field.value))
            previous_kind = field.kind
            continuations = 0
        elif field is not None and field.words <= _UNKNOWN_LABEL_MAX_WORDS:
            unknown += 1
            previous_kind = None
            continuations = 0
        else:
            # A long From, To or Subject line wraps onto the next line.
            continuations += 1
            if continuations > _HEADER_CONTINUATIONS:
                break
            if previous_kind == "from" and _has_address(line):
                from_address = True
        end = j + 1
    if unknown > known:
        return None
    if "from" in kinds and (len(kinds) >= 3 or (from_address and len(kinds) >= 2)):
        return end
    return None


def _is_separator(lines: list[str], i: int) -> bool:
    line = lines[i]
    if not _SEPARATOR_RE.match(line):
        return False
    # "=====" or "-----" right under a line of text underlines a heading; client rules are
    # underscores, or stand apart from the text.
    underline = set(line.strip()) <= set("=-")
    return not (underline and i > 0 and not _is_blank(lines[i - 1]))


def _introduces_history(lines: list[str], start: int) -> bool:
    following = next((j for j in range(start, len(lines)) if not _is_blank(lines[j])), None)
    if following is None:
        return False
    return (
        _header_block_end(lines, following) is not None
        or _attribution_span(lines, following) is not None
    )


def _history_at(lines: list[str], i: int) -> int | None:
    """End of the history marker (delimiter line or header block) starting at line i."""
    line = lines[i]
    framed = _FRAMED_TITLE_RE.match(line)
    if framed is not None and (
        _HISTORY_TITLE_RE.search(framed.group("title")) or _introduces_history(lines, i + 1)
    ):
        # A dash-framed title in a language not listed still is one when old mail's header
        # block or attribution follows it.
        return i + 1
    if _BEGIN_FORWARD_RE.match(line) or _is_separator(lines, i):
        return i + 1
    return _header_block_end(lines, i)


def _is_sent_from(line: str) -> bool:
    text = _LINK_RE.sub("", line).replace("[", "").replace("]", "").strip().lstrip("(<").strip()
    if not text or len(text) > _SENT_FROM_MAX_CHARS or len(text.split()) > _SENT_FROM_MAX_WORDS:
        return False
    if _SENT_FROM_MY_RE.match(text):
        return True
    if _OUTLOOK_APP_RE.search(text) and (
        _MICROSOFT_LINK_RE.search(line)
        or (len(text.split()) <= _OUTLOOK_APP_MAX_WORDS and not re.search(r"[.,;!?]", text))
    ):
        return True
    return _SENT_FROM_RE.match(text) is not None and _DEVICE_RE.search(text) is not None


def _starts_disclaimer(lines: list[str], i: int) -> bool:
    if i > 0 and not _is_blank(lines[i - 1]):
        return False
    paragraph: list[str] = []
    for line in lines[i:]:
        if _is_blank(line) or sum(map(len, paragraph)) > _DISCLAIMER_SCAN_CHARS:
            break
        paragraph.append(line.strip())
    return _DISCLAIMER_RE.search(" ".join(paragraph)[:_DISCLAIMER_SCAN_CHARS]) is not None


def _is_signature(lines: list[str], i: int) -> bool:
    line = lines[i]
    return (
        _SIGNATURE_DASHES_RE.match(line) is not None
        or _is_sent_from(line)
        or _starts_disclaimer(lines, i)
    )


def _opens_history(lines: list[str]) -> bool:
    """Does this (dequoted) text start with quoted history rather than a quoted remark?"""
    for i, line in enumerate(lines):
        if _is_blank(line):
            continue
        return _attribution_span(lines, i) is not None or _history_at(lines, i) is not None
    return False


def _wrapped_tail_end(lines: list[str], quoted: int) -> int | None:
    """End of the unquoted tail a client hard-wrapped off the quoted line `quoted`, if any.

    Clients that wrap at send time (76 or 78 columns) break a long quoted line after quoting
    it, so its tail lands on the next lines without '>' and reads as the writer's text. A tail
    is recognised by the shape of a wrap: the quoted line was full (the tail's first word would
    not have fitted on it) but no longer than a client's width, each tail line but the last was
    full too, and the tail either goes on mid-sentence (a lowercase word after a line with no
    full stop) or sits between two quoted lines. A capitalised answer right below a quoted
    question, with a blank line or nothing after it, stays the writer's.
    """
    previous = lines[quoted].rstrip()
    if len(previous) > _WRAP_WIDTH_MAX:
        return None
    run: list[str] = []
    j = quoted + 1
    while j < len(lines) and not _is_blank(lines[j]) and not _is_quote(lines[j]):
        run.append(lines[j].strip())
        j += 1
        if len(run) > _WRAPPED_TAIL_MAX_LINES:
            return None
    if not run:
        return None
    widths = [len(previous), *(len(line) for line in run[:-1])]
    if any(
        width + 1 + len(line.split()[0]) <= _WRAPPED_LINE_MIN
        for width, line in zip(widths, run, strict=True)
    ):
        return None  # a word that would have fitted on the line above: not a wrap
    sandwiched = j < len(lines) and _is_quote(lines[j])
    mid_sentence = run[0][0].islower() and previous[-1] not in _SENTENCE_END
    return j if sandwiched or mid_sentence else None


def _quote_end(lines: list[str], i: int) -> int:
    """End of the quote starting at line i: it runs on across blank lines while another quoted
    line follows, and takes in the tails a client wrapped off its lines."""
    end = i + 1
    j = i + 1
    while j < len(lines):
        if _is_quote(lines[j]):
            j += 1
            end = j
            continue
        if _is_quote(lines[j - 1]):
            tail = _wrapped_tail_end(lines, j - 1)
            if tail is not None:
                j = end = tail
                continue
        if not _is_blank(lines[j]):
            break
        j += 1
    return end


def _classify(lines: list[str]) -> list[_Unit]:
    units: list[_Unit] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_blank(line):
            units.append(_Unit(_Kind.BLANK, i, (line,)))
            i += 1
            continue
        if _is_quote(line):
            end = _quote_end(lines, i)
            units.append(_Unit(_Kind.QUOTE, i, tuple(lines[i:end])))
            i = end
            continue
        end_or_none = _attribution_at(lines, i)
        if end_or_none is not None:
            units.append(_Unit(_Kind.ATTRIBUTION, i, tuple(lines[i:end_or_none])))
            i = end_or_none
            continue
        end_or_none = _history_at(lines, i)
        if end_or_none is not None:
            units.append(_Unit(_Kind.HISTORY, i, tuple(lines[i:end_or_none])))
            i = end_or_none
            continue
        kind = _Kind.SIGNATURE if _is_signature(lines, i) else _Kind.TEXT
        units.append(_Unit(kind, i, (line,)))
        i += 1
    return units


# --------------------------------------------------------------------------------------------
# Deciding what the writer wrote
# --------------------------------------------------------------------------------------------


def _next_content(units: list[_Unit], index: int) -> _Unit | None:
    for unit in units[index + 1 :]:
        if unit.kind is not _Kind.BLANK:
            return unit
    return None


def _introduces_quote(units: list[_Unit], index: int) -> bool:
    following = _next_content(units, index)
    return following is not None and following.kind is _Kind.QUOTE


def _text_follows(units: list[_Unit], index: int) -> bool:
    """Does the writer's own text come after unit `index` (before history or a signature)?"""
    for offset, unit in enumerate(units[index + 1 :], start=index + 1):
        if unit.kind is _Kind.TEXT:
            return True
        if unit.kind in (_Kind.HISTORY, _Kind.SIGNATURE):
            return False
        if unit.kind is _Kind.ATTRIBUTION and not _introduces_quote(units, offset):
            return False
    return False


def _interleaved_later(units: list[_Unit], index: int) -> bool:
    """Is there, after unit `index`, a quote that the writer answers below (inline reply)?"""
    seen_text = False
    for offset, unit in enumerate(units[index + 1 :], start=index + 1):
        if unit.kind is _Kind.TEXT:
            seen_text = True
        elif unit.kind is _Kind.QUOTE:
            if seen_text and _text_follows(units, offset):
                return True
        elif unit.kind in (_Kind.HISTORY, _Kind.SIGNATURE) or (
            unit.kind is _Kind.ATTRIBUTION and not _introduces_quote(units, offset)
        ):
            return False
    return False


def _keep_quote(units: list[_Unit], index: int, *, text_before: bool) -> bool:
    quote = units[index]
    if _opens_history([_DEQUOTE_RE.sub("", line, count=1) for line in quote.lines]):
        return False  # a quoted "On ... wrote:" or forward: a copy of older mail
    previous = next(
        (unit for unit in reversed(units[:index]) if unit.kind is not _Kind.BLANK), None
    )
    attributed = previous is not None and previous.kind is _Kind.ATTRIBUTION
    if not _text_follows(units, index):
        # History below a top-posted reply goes; a lone quote with nothing else is all the
        # writer sent, unless the client introduced it as old mail.
        return not text_before and not attributed
    # Bottom-posting (the whole previous mail, then the answer) drops the quote; in an inline
    # reply the quote is the question the writer's text answers, so it stays.
    return not attributed or text_before or _interleaved_later(units, index)


def _writer_lines(units: list[_Unit], *, apply_cuts: bool) -> list[str]:
    kept: list[str] = []
    text_before = False
    for index, unit in enumerate(units):
        if unit.kind is _Kind.BLANK:
            kept.extend(unit.lines)
        elif unit.kind is _Kind.TEXT or (unit.kind is _Kind.SIGNATURE and not apply_cuts):
            kept.extend(unit.lines)
            text_before = True
        elif unit.kind is _Kind.SIGNATURE:
            break
        elif unit.kind is _Kind.QUOTE:
            if _keep_quote(units, index, text_before=text_before):
                kept.extend(unit.lines)
        elif unit.kind is _Kind.ATTRIBUTION and _introduces_quote(units, index):
            continue  # "On ... wrote:" above a quote: the quote decides
        elif text_before:
            break  # history after the writer's text: the rest is old mail
        # History before any text (a forward, a bottom-posted header): skip it, read on.
    return kept


def _find_marker(units: list[_Unit]) -> tuple[int, int] | None:
    """(line, column) of the first marker in the writer's own lines, if any.

    Quoted lines and everything below the start of the history are someone else's text: a
    "##" there (say in the customer's SMS, quoted back) is not the writer's marker.
    """
    text_before = False
    for index, unit in enumerate(units):
        if unit.kind in (_Kind.TEXT, _Kind.SIGNATURE):
            for offset, line in enumerate(unit.lines):
                match = _MARKER_RE.search(line)
                if match is not None:
                    return unit.start + offset, match.start()
            text_before = text_before or unit.kind is _Kind.TEXT
        elif unit.kind is _Kind.ATTRIBUTION and _introduces_quote(units, index):
            continue
        elif unit.kind in (_Kind.ATTRIBUTION, _Kind.HISTORY) and text_before:
            return None
    return None


def _normalise_lines(body: str) -> list[str]:
    body = body.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return [line.rstrip() for line in body.split("\n")]


def _render(lines: list[str]) -> str:
    lines = [line.rstrip() for line in lines]
    # Trailing rules, tracking marks and blank lines are left-overs of a cut, never text.
    while lines and _JUNK_LINE_RE.match(lines[-1]):
        lines.pop()
    while lines and _is_blank(lines[0]):
        lines.pop(0)
    return "\n".join(lines)


def extract_reply_text(body: str) -> ExtractedReply:
    """The SMS text in a decoded plain-text reply body.

    If the writer ended their text with the marker "##", everything before it is the SMS
    (only leading quoted history is removed). Otherwise quoted history, attribution lines,
    header blocks, signatures and disclaimers are trimmed away.
    """
    lines = _normalise_lines(body)
    units = _classify(lines)
    marker = _find_marker(units)
    if marker is not None:
        line_index, column = marker
        before = [*lines[:line_index], lines[line_index][:column]]
        kept = _writer_lines(_classify(before), apply_cuts=False)
        return ExtractedReply(_render(kept), "marker")
    return ExtractedReply(_render(_writer_lines(units, apply_cuts=True)), "trimmed")


# --------------------------------------------------------------------------------------------
# HTML bodies
# --------------------------------------------------------------------------------------------

_BLOCK_TAGS = _words(
    "address article aside blockquote caption center dd details dialog dir div dl dt fieldset"
    " figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr li main menu nav ol p"
    " pre section summary table tbody tfoot thead tr ul"
)
_VOID_TAGS = _words("area base br col embed hr img input link meta param source track wbr")
_SKIPPED_TAGS = frozenset({"head", "script", "style", "template", "title"})
# Outlook puts the quoted mail after one of these; everything from there on is history.
_HISTORY_IDS = frozenset({"divrplyfwdmsg", "appendonsend", "stopspelling"})
# Gmail, Yahoo and Thunderbird wrap the quote (and its "On ... wrote:") in these classes.
_QUOTED_CLASSES = ("gmail_quote", "yahoo_quoted", "moz-cite-prefix", "gmail_signature")
_HTML_SPACE_RE = re.compile(r"[ \t\n\r\f]+")  # not U+00A0: &nbsp; is a real space


def _is_quoted_section(tag: str, attributes: dict[str, str]) -> bool:
    classes = attributes.get("class", "").lower()
    if any(name in classes for name in _QUOTED_CLASSES):
        return True
    if "yahoo_quoted" in attributes.get("id", "").lower():
        return True
    # Apple Mail and Thunderbird mark quotes type="cite"; a bare <blockquote> is the writer's
    # own indentation (Gmail and Apple Mail "indent"), so it stays.
    return tag == "blockquote" and (
        attributes.get("type", "").lower() == "cite" or "cite" in attributes or "quote" in classes
    )


class _TextCollector(HTMLParser):
    """Collects the visible text of an HTML body, line by line."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._space = False
        self._skipping: str | None = None
        self._skip_depth = 0
        self._stopped = False
        self._pre = 0

    def _end_line(self) -> None:
        self.lines.append("".join(self._line))
        self._line = []
        self._space = False

    def _break(self) -> None:
        if self._line:
            self._end_line()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._stopped:
            return
        if self._skipping is not None:
            if self._skipping == "head" and tag == "body":
                self._skipping = None  # a <head> nobody closed
            else:
                if tag == self._skipping:
                    self._skip_depth += 1
                return
        attributes = {name.lower(): (value or "") for name, value in attrs}
        if attributes.get("id", "").lower() in _HISTORY_IDS:
            self._stopped = True
            return
        if tag in _SKIPPED_TAGS or _is_quoted_section(tag, attributes):
            if tag not in _VOID_TAGS:
                self._skipping = tag
                self._skip_depth = 1
            return
        if tag == "br":
            self._end_line()
            return
        if tag in _BLOCK_TAGS:
            self._break()
        if tag == "li":
            self._line.append("- ")
        elif tag in ("td", "th") and self._line:
            self._space = True
        elif tag == "pre":
            self._pre += 1

    def handle_endtag(self, tag: str) -> None:
        if self._stopped:
            return
        if self._skipping is not None:
            if tag == self._skipping:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skipping = None
            return
        if tag in _BLOCK_TAGS:
            self._break()
        if tag == "pre" and self._pre:
            self._pre -= 1

    def handle_data(self, data: str) -> None:
        if self._stopped or self._skipping is not None:
            return
        if self._pre:
            first, *rest = data.split("\n")
            self._line.append(first)
            for piece in rest:
                self._end_line()
                self._line.append(piece)
            return
        collapsed = _HTML_SPACE_RE.sub(" ", data)
        if not collapsed:
            return
        core = collapsed.strip(" ")
        if collapsed.startswith(" "):
            self._space = True
        if core:
            if self._space and self._line:
                self._line.append(" ")
            self._line.append(core)
            self._space = collapsed.endswith(" ")

    def close(self) -> None:
        super().close()
        self._break()


def html_to_text(html: str) -> str:
    """Plain text of an HTML-only reply, with the client's quoted history left out."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    lines: list[str] = []
    for line in collector.lines:
        line = line.replace("\u00a0", " ").rstrip()
        # Empty paragraphs are spacing in HTML layouts; one blank line is enough in an SMS.
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# format=flowed (RFC 3676)
# --------------------------------------------------------------------------------------------


def _flowed_line(depth: int, text: str) -> str:
    if depth == 0:
        return text
    return ">" * depth + (" " + text if text else "")


def unflow(text: str, *, delsp: bool) -> str:
    """Decode a format=flowed body: join soft line breaks, undo space-stuffing.

    Quoted lines come back as "> text" (one ">" per level). A line ending in a space is
    joined to the next one only if both have the same quote depth; the "-- " signature
    separator never flows. With delsp=yes the soft-break space itself is removed.
    """
    output: list[str] = []
    paragraph: list[str] = []
    paragraph_depth = 0
    for raw in text.replace("\r\n", "\n").split("\n"):
        depth = len(raw) - len(raw.lstrip(">"))
        content = raw[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing (RFC 3676, 4.4)
        signature_separator = content == "-- "
        if paragraph and (depth != paragraph_depth or signature_separator):
            # A flowed line followed by a different depth is treated as fixed (4.5), and the
            # "-- " separator is neither fixed nor flowed (4.3): it stands on its own line.
            output.append(_flowed_line(paragraph_depth, "".join(paragraph)))
            paragraph = []
        flowed = content.endswith(" ") and not signature_separator
        if flowed and delsp:
            content = content[:-1]
        paragraph.append(content)
        paragraph_depth = depth
        if not flowed:
            output.append(_flowed_line(depth, "".join(paragraph)))
            paragraph = []
    if paragraph:
        output.append(_flowed_line(paragraph_depth, "".join(paragraph)))
    return "\n".join(output)
