# Text in many scripts on purpose: letters that look Latin are what these languages use.
# ruff: noqa: RUF001
"""Hand-written items: layouts other reply parsers document in their test cases, in our words.

Each case names the layout it stands for and where that layout is shown (a parser's test case
or a public archive); the bodies are our own text. Several are traps: text a writer types that
looks like reply furniture and must stay in the SMS.
"""

from __future__ import annotations

from dataclasses import dataclass

TALON = "mailgun/talon (tests/text_quotations_test.py)"
ERP = "github/email_reply_parser (test/emails/*)"
MPR = "alfonsrv/mail-parser-reply (test/emails/*)"
WDERP = "willdurand/EmailReplyParser (tests/Fixtures/*)"
TRIMMER = "discourse/email_reply_trimmer (test/emails/*)"
ISSUE = "smsbridge issue 11 (classes of misses on replies nobody here tuned for)"


@dataclass(frozen=True)
class Case:
    id: str
    client: str
    language: str
    documented_at: str
    description: str
    body: str
    expected: str


CASES: list[Case] = [
    Case(
        "attribution-without-colon-en",
        "Generic (mobile clients, helpdesk relays)",
        "en",
        f"{ISSUE}; {TALON} (the colon after 'wrote' is optional there)",
        "'wrote' without its colon, unquoted history below",
        "OK, Thursday then.\n\nOn Tue, 4 Mar 2025 at 09:15, Sam Taylor <sam.taylor@example.com> "
        "wrote\n\nCan we move it to Thursday? Friday is bad for me.\n\nSam\n",
        "OK, Thursday then.",
    ),
    Case(
        "attribution-without-colon-de",
        "Generic (mobile clients, helpdesk relays)",
        "de",
        ISSUE,
        "'schrieb' without its colon, quoted history below",
        "Geht klar.\n\nAm 04.03.2025 um 09:15 schrieb Anna Weber <anna.weber@example.de>\n"
        "> Können wir auf Donnerstag schieben?\n",
        "Geht klar.",
    ),
    Case(
        "attribution-without-colon-fr",
        "Generic (mobile clients, helpdesk relays)",
        "fr",
        ISSUE,
        "'a écrit' without its colon, unquoted history below",
        "D'accord pour jeudi.\n\nLe 4 mars 2025 à 09:15, Camille Martin "
        "<camille.martin@example.fr> a écrit\n\nPeut-on décaler à jeudi ?\n",
        "D'accord pour jeudi.",
    ),
    Case(
        "attribution-without-colon-es",
        "Generic (mobile clients, helpdesk relays)",
        "es",
        ISSUE,
        "'escribió' without its colon, quoted history below",
        "Perfecto, el jueves.\n\nEl 4 mar 2025, a las 9:15, Javier García "
        "<javier.garcia@example.es> escribió\n\n> ¿Podemos pasarlo al jueves?\n",
        "Perfecto, el jueves.",
    ),
    Case(
        "attribution-two-lines-sv",
        "Gmail (web)",
        "sv",
        MPR + " (email_sv_wrap.txt shows the Swedish form wrapped)",
        "attribution wrapped before the address",
        "Tack, vi ses då.\n\nDen tis 4 mars 2025 kl. 09:15 skrev Anna Lindqvist <\n"
        "anna.lindqvist@example.se>:\n\n> Går det bra på torsdag?\n",
        "Tack, vi ses då.",
    ),
    Case(
        "weekday-dot-sv-unquoted",
        "Gmail (web)",
        "sv",
        ISSUE + " (Scandinavian Gmail: a weekday abbreviation with a dot before the date)",
        "'tors. 6 mars 2025 kl. 18:02 skrev ...' over an unquoted copy",
        "Den är klar, välkommen förbi.\n\ntors. 6 mars 2025 kl. 18:02 skrev Anna Lindqvist "
        "<anna.lindqvist@example.se>:\n\nÄr cykeln klar?\n\nAnna\n",
        "Den är klar, välkommen förbi.",
    ),
    Case(
        "weekday-dot-nb-two-lines",
        "Gmail (web)",
        "nb",
        ISSUE,
        "Norwegian weekday with a dot, attribution over two lines",
        "Den er klar nå.\n\ntor. 6. mar. 2025 kl. 18:02 skrev Ingrid Hansen\n"
        "<ingrid.hansen@example.no>:\n\n> Er sykkelen klar?\n",
        "Den er klar nå.",
    ),
    Case(
        "weekday-dot-da-unquoted",
        "Gmail (web)",
        "da",
        MPR + " (email_danish_*.txt)",
        "Danish weekday with a dot and a dotted time, unquoted copy below",
        "Den er klar i morgen.\n\ntor. 6. mar. 2025 kl. 18.02 skrev Mette Nielsen "
        "<mette.nielsen@example.dk>:\n\nEr cyklen klar?\n",
        "Den er klar i morgen.",
    ),
    Case(
        "attribution-three-lines-en",
        "Gmail (web)",
        "en",
        TRIMMER + " (attributions wrapped over several lines)",
        "attribution wrapped over three lines",
        "See you at 10.\n\nOn Tue, 4 Mar 2025 at 09:15, Sam Taylor from the\n"
        "Riverside Cycling Club <sam.taylor@example.com>\nwrote:\n\n> Is 10 ok?\n",
        "See you at 10.",
    ),
    Case(
        "gnus-writes-bottom",
        "Gnus / Emacs",
        "en",
        TRIMMER + " (usenet.txt)",
        "'Name <address> writes:' then the quote, answer below",
        "Sam Taylor <sam.taylor@example.com> writes:\n\n> Do you sell inner tubes?\n\n"
        "Yes, all sizes.\n",
        "Yes, all sizes.",
    ),
    Case(
        "outlook-two-fields",
        "Outlook for Windows",
        "en",
        TALON + " (From:/Date: splitter lines)",
        "a header block of only From and Sent, with an address",
        "Thanks, that's sorted.\n\nFrom: Sam Taylor <sam.taylor@example.com>\n"
        "Sent: 04 March 2025 09:15\n\nCan you check my order?\n",
        "Thanks, that's sorted.",
    ),
    Case(
        "outlook-one-line-header",
        "Outlook on the web (text flattened by a gateway)",
        "en",
        TALON + " (html_quotations: Outlook blocks rendered to text)",
        "the whole header block on one line",
        "Thanks!\n\nFrom: Sam Taylor <sam.taylor@example.com> Sent: Tuesday, March 4, 2025 "
        "9:15 AM To: shop@example.org Subject: RE: Bike repair\n\nIs it ready?\n",
        "Thanks!",
    ),
    Case(
        "outlook-on-behalf-de",
        "Outlook Web App (German)",
        "de",
        "public mailing-list archives (git list, 2017: 'im Auftrag von', 'Bis:')",
        "'Von: X im Auftrag von Y' and the 'Bis:' field name",
        "Ist erledigt.\n\n________________________________\nVon: Radhaus Keller "
        "<info@radhaus.example.de> im Auftrag von Anna Weber <anna.weber@example.de>\n"
        "Gesendet: Dienstag, 4. März 2025 09:15\nBis: Jonas Keller\nCc: Werkstatt\n"
        "Betreff: Re: Bremsen\n\nSind die Bremsen fertig?\n",
        "Ist erledigt.",
    ),
    Case(
        "zimbra-de",
        "Zimbra",
        "de",
        "public mailing-list archives (linux-mtd, 2022: Zimbra's Von/An/CC/Gesendet/Betreff)",
        "'----- Ursprüngliche Mail -----' and Zimbra's field order",
        'Passt, bis Freitag.\n\n----- Ursprüngliche Mail -----\nVon: "Anna Weber" '
        '<anna.weber@example.de>\nAn: "Radhaus" <info@radhaus.example.de>\nCC: "Werkstatt" '
        "<werkstatt@radhaus.example.de>\nGesendet: Dienstag, 4. März 2025 09:15:01\n"
        "Betreff: Termin\n\nGeht Freitag?\n",
        "Passt, bis Freitag.",
    ),
    Case(
        "zimbra-fr",
        "Zimbra",
        "fr",
        WDERP + " (email_zimbra_free_fr.txt)",
        "'----- Mail original -----' with De/À/Envoyé/Objet",
        'C\'est noté, à vendredi.\n\n----- Mail original -----\nDe: "Camille Martin" '
        '<camille.martin@example.fr>\nÀ: "Cycles Bernard" <contact@cycles.example.fr>\n'
        "Envoyé: Mardi 4 Mars 2025 09:15:01\nObjet: Rendez-vous\n\nVendredi, ça vous va ?\n",
        "C'est noté, à vendredi.",
    ),
    Case(
        "thunderbird-original-message-headers",
        "Thunderbird",
        "en",
        "Thunderbird's mailnews.reply_header_originalmessage string",
        "'-------- Original Message --------' with Subject and Date above From",
        "Done, it's in the post.\n\n-------- Original Message --------\nSubject: Order 1182\n"
        "Date: Tue, 4 Mar 2025 09:15:00 +0000\nFrom: Sam Taylor <sam.taylor@example.com>\n"
        "To: shop@example.org\n\nHas my order shipped?\n",
        "Done, it's in the post.",
    ),
    Case(
        "unattributed-quote-answered",
        "Generic",
        "en",
        ERP + " (a writer quoting one line on purpose)",
        "a quoted line the writer answers, no attribution",
        "> Can I come at 3?\nYes, 3 is fine.\n",
        "> Can I come at 3?\nYes, 3 is fine.",
    ),
    Case(
        "inline-without-blank-lines",
        "Generic",
        "en",
        TALON + " (inline replies)",
        "inline answers directly under short quoted questions",
        "On Tue, 4 Mar 2025 at 09:15, Sam Taylor <sam.taylor@example.com> wrote:\n"
        "> Do you open on Sunday?\nNo, closed.\n> And Saturday?\nUntil 4.\n",
        "> Do you open on Sunday?\nNo, closed.\n> And Saturday?\nUntil 4.",
    ),
    Case(
        "inline-long-question-then-answer",
        "Generic",
        "en",
        TALON + " (inline replies)",
        "a long quoted line and a capitalised answer right under it",
        "> Could you tell me whether the blue frame in a medium size is still in the shop\n"
        "Yes, we have one left.\n",
        "> Could you tell me whether the blue frame in a medium size is still in the shop\n"
        "Yes, we have one left.",
    ),
    Case(
        "hardwrap-lowercase-nl",
        "Generic (client that wraps after quoting)",
        "nl",
        ISSUE,
        "a quoted line wrapped, its tail unquoted below the quote",
        "Ja, dat kan.\n\nOp di 4 mrt 2025 om 09:15 schreef Eva de Vries "
        "<eva.devries@example.nl>:\n\n> Hallo, kan ik mijn fiets donderdagmiddag komen ophalen "
        "of is dat\nte vroeg?\n",
        "Ja, dat kan.",
    ),
    Case(
        "hardwrap-middle-lines-pl",
        "Generic (client that wraps after quoting)",
        "pl",
        ISSUE,
        "wrapped tails between quoted lines",
        "Tak, będzie gotowy.\n\nwt., 4 mar 2025 o 09:15 Anna Kowalska "
        "<anna.kowalska@example.pl> napisał(a):\n\n> Dzień dobry, w sobotę zostawiłam rower do "
        "wymiany łańcucha i chciałam\nzapytać o termin.\n> Czy będzie gotowy przed weekendem?\n"
        "> Pozdrawiam, Anna\n",
        "Tak, będzie gotowy.",
    ),
    Case(
        "sent-from-sentence-kept",
        "Generic",
        "en",
        MPR + " (email_sent_from_not_signature.txt)",
        "a sentence starting 'Sent from' that is not a signature",
        "Sent from the warehouse this morning, it should reach you tomorrow.\n",
        "Sent from the warehouse this morning, it should reach you tomorrow.",
    ),
    Case(
        "from-to-dates-kept",
        "Generic",
        "en",
        ERP + " (writer text with 'From:' lines)",
        "writer's own 'From:'/'To:' lines without addresses",
        "We are closed for refitting:\nFrom: Monday 10 March\nTo: Friday 14 March\n\n"
        "Sorry for the trouble.\n",
        "We are closed for refitting:\nFrom: Monday 10 March\nTo: Friday 14 March\n\n"
        "Sorry for the trouble.",
    ),
    Case(
        "contact-lines-kept",
        "Generic",
        "en",
        ERP,
        "writer's contact lines with an address and a time",
        "Call or email us:\nEmail: shop@example.org\nPhone: 01632 960123\nHours: 9:00-17:30\n",
        "Call or email us:\nEmail: shop@example.org\nPhone: 01632 960123\nHours: 9:00-17:30",
    ),
    Case(
        "to-subject-lines-kept",
        "Generic",
        "en",
        ERP,
        "writer tells the customer where to send photos",
        "Please send the photos\nTo: photos@example.org\nSubject: your order number\n",
        "Please send the photos\nTo: photos@example.org\nSubject: your order number",
    ),
    Case(
        "de-von-bis-kept",
        "Generic",
        "de",
        ERP,
        "writer's own 'Von:'/'An:' lines in German without addresses",
        "Wir haben Betriebsferien.\nVon: 10. März\nBis: 14. März\n\nViele Grüße\nJonas\n",
        "Wir haben Betriebsferien.\nVon: 10. März\nBis: 14. März\n\nViele Grüße\nJonas",
    ),
    Case(
        "fr-objet-in-text-kept",
        "Generic",
        "fr",
        ISSUE,
        "writer's letter-style 'Objet :' line",
        "Objet : votre commande 1182\n\nBonjour, elle part demain.\n",
        "Objet : votre commande 1182\n\nBonjour, elle part demain.",
    ),
    Case(
        "outlook-space-before-colon-es",
        "Outlook (Spanish, spaced colon)",
        "es",
        ISSUE,
        "field names with a space before the colon outside French",
        "Sí, lo tenemos.\n\n________________________________\nDe : Javier García "
        "<javier.garcia@example.es>\nEnviado el : martes, 4 de marzo de 2025 9:15\n"
        "Para : Bicis Torres\nAsunto : Cuadro azul\n\n¿Tienen el cuadro azul?\n",
        "Sí, lo tenemos.",
    ),
    Case(
        "outlook-no-space-de",
        "Outlook on the web (text part)",
        "de",
        ISSUE,
        "field names glued to their values",
        "Ja, ab morgen.\n\nVon:Anna Weber <anna.weber@example.de>\nGesendet:Dienstag, 4. März "
        "2025 09:15\nAn:Radhaus Keller\nBetreff:Kette\n\nHaben Sie die Kette?\n",
        "Ja, ab morgen.",
    ),
    Case(
        "outlook-unknown-field-above-fr",
        "Outlook (delegated mailbox, French)",
        "fr",
        ISSUE,
        "a localized field the rules do not list sits above the block",
        "Oui, il est prêt.\n\nEnvoyé par : Cycles Bernard <contact@cycles.example.fr>\n"
        "De : Camille Martin <camille.martin@example.fr>\nEnvoyé : mardi 4 mars 2025 09:15\n"
        "À : Luc Bernard\nObjet : Vélo\n\nMon vélo est-il prêt ?\n",
        "Oui, il est prêt.",
    ),
    Case(
        "apple-forward-with-comment",
        "Apple Mail (macOS)",
        "en",
        TRIMMER + " (forwarded_apple.txt)",
        "a comment above 'Begin forwarded message:'",
        "Can you call her back today?\n\nBegin forwarded message:\n\nFrom: Sam Taylor "
        "<sam.taylor@example.com>\nSubject: Bike repair\nDate: 4 March 2025 at 09:15:00 GMT\n"
        "To: shop@example.org\n\nPlease call me.\n",
        "Can you call her back today?",
    ),
    Case(
        "gmail-forward-de",
        "Gmail (web)",
        "de",
        TRIMMER + " (forwarded_gmail.txt)",
        "a comment above Gmail's German forward title",
        "Kannst du das übernehmen?\n\n---------- Weitergeleitete Nachricht ---------\n"
        "Von: Anna Weber <anna.weber@example.de>\nDate: Di., 4. März 2025 um 09:15 Uhr\n"
        "Subject: Kette\nTo: <info@radhaus.example.de>\n\nHaben Sie die Kette?\n",
        "Kannst du das übernehmen?",
    ),
    Case(
        "outlook-ja-english-title",
        "Outlook for Windows (Japanese)",
        "ja",
        "Outlook's Japanese plain-text reply keeps the English separator title",
        "'-----Original Message-----' above Japanese field names",
        "承知しました。木曜日にお待ちしております。\n\n-----Original Message-----\n"
        "差出人: 田中花子 <hanako.tanaka@example.jp>\n送信日時: 2025年3月4日 9:15\n"
        "宛先: 佐藤健\n件名: 修理の予約\n\n木曜日に伺えますか。\n",
        "承知しました。木曜日にお待ちしております。",
    ),
    Case(
        "disclaimer-de",
        "Generic (company footer)",
        "de",
        TALON + " (signature and footer cases)",
        "a confidentiality footer below the reply",
        "Danke, ist angekommen.\n\nDiese E-Mail enthält vertrauliche Informationen. Wenn Sie "
        "nicht der richtige Adressat sind, informieren Sie bitte den Absender.\n",
        "Danke, ist angekommen.",
    ),
    Case(
        "our-forward-quoted",
        "Gmail (web)",
        "en",
        "smsbridge's own forwarded-SMS email, quoted back by Gmail",
        "a reply above our own forwarded SMS",
        "Booked you in for 10:30.\n\nOn Tue, 4 Mar 2025 at 09:15, SMS Bridge <\n"
        "reply+k3j2@sms.example.com> wrote:\n\n> SMS from +44 7700 900123:\n>\n"
        "> Can I book a service for Thursday?\n>\n> Reply to this email to answer by SMS.\n",
        "Booked you in for 10:30.",
    ),
    Case(
        "ru-yandex-weekday",
        "Yandex Mail",
        "ru",
        "mailgun/talon (talon/quotations.py splitter '02.04.2012 14:20 пользователь ...')",
        "Russian 'пользователь ... написал:' over two lines",
        'Да, готов.\n\n04.03.2025 09:15 пользователь "Ольга Смирнова" <\n'
        "olga.smirnova@example.ru> написал:\n\n> Велосипед готов?\n",
        "Да, готов.",
    ),
    Case(
        "es-outlook-enviado-el-unknown-order",
        "Outlook (Spanish)",
        "es",
        MPR + " (from_header lists De/Enviado/Para/Asunto/Fecha)",
        "Spanish block with Fecha first",
        "Lo tenemos en azul.\n\nFecha: martes, 4 de marzo de 2025 9:15\nDe: Javier García "
        "<javier.garcia@example.es>\nPara: Bicis Torres\nAsunto: Colores\n\n¿En qué colores?\n",
        "Lo tenemos en azul.",
    ),
    Case(
        "pt-outlook-enviada-em",
        "Outlook for Windows (Brazilian Portuguese)",
        "pt",
        MPR + " (from_header)",
        "'Enviada em:' with a wrapped Para line",
        "Sim, chegou hoje.\n\nDe: Ana Souza <ana.souza@example.com.br>\nEnviada em: terça-feira, "
        "4 de março de 2025 09:15\nPara: Bicicletaria Lima <contato@lima.example.com.br>; "
        "Oficina\n<oficina@lima.example.com.br>\nAssunto: Peças\n\nAs peças chegaram?\n",
        "Sim, chegou hoje.",
    ),
    Case(
        "it-outlook-nospace",
        "Outlook on the web (text part)",
        "it",
        ISSUE,
        "Italian field names glued to their values",
        "Sì, è pronta.\n\nDa:Laura Rossi <laura.rossi@example.it>\nInviato:martedì 4 marzo 2025 "
        "09:15\nA:Cicli Bianchi\nOggetto:Bici\n\nLa bici è pronta?\n",
        "Sì, è pronta.",
    ),
    Case(
        "hu-gmail-two-lines",
        "Gmail (web)",
        "hu",
        MPR + " (email_hu_*.txt)",
        "Hungarian 'ezt írta' attribution wrapped",
        "Igen, kész van.\n\nNagy Anna <anna.nagy@example.hu> ezt írta (időpont: 2025.\n"
        "márc. 4., K, 9:15):\n\n> Kész a bicikli?\n",
        "Igen, kész van.",
    ),
    Case(
        "ko-outlook",
        "Outlook for Windows (Korean)",
        "ko",
        MPR + " (from_header for ko)",
        "Korean field names with spaces in them",
        "네, 준비되었습니다.\n\n보낸 사람: 김지은 <jieun.kim@example.kr>\n"
        "보낸 날짜: 2025년 3월 4일 화요일 오전 9:15\n받는 사람: 민수자전거\n제목: 수리\n\n"
        "수리 끝났나요?\n",
        "네, 준비되었습니다.",
    ),
    Case(
        "zh-outlook-fullwidth-colon",
        "Outlook for Windows (Chinese)",
        "zh",
        MPR + " (from_header for zh)",
        "Chinese field names with full-width colons",
        "好的，周四见。\n\n发件人： 王芳 <wang.fang@example.cn>\n发送时间： 2025年3月4日 9:15\n"
        "收件人： 明记车行\n主题： 预约\n\n周四可以吗？\n",
        "好的，周四见。",
    ),
]
