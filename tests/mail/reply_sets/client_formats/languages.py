# Text in many scripts on purpose: letters that look Latin are what these languages use.
# ruff: noqa: RUF001
"""Per-language wording for the client-formats set: the writers' replies and the quoted mail.

All of it is our own text, written for this set. Each writer's text is what the SMS must be;
several hold lines that look like reply furniture on purpose (a line opening with the word a
client starts its attribution with, "Label: value" lines, a closing that ends in a colon), so
that a rule which cuts too much shows up as a miss.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    code: str
    replies: tuple[str, str, str, str]
    short_quote: str
    long_quote: str  # one paragraph, longer than a 76-column line
    customer: str  # the name of whoever wrote the quoted mail
    customer_address: str
    topic: str  # the subject of the thread, without a reply prefix
    reply_prefix: str  # as Outlook writes it in this language ("AW:", "SV:", ...)
    signature_name: str  # below "-- " in the signature variant
    # Inline replies: two questions of the quoted mail and the writer's answers.
    inline: tuple[str, str, str, str] | None = None


LANGUAGES: dict[str, Language] = {
    "en": Language(
        "en",
        (
            "Yes, we can do Thursday at 2pm.",
            "Hi Sam,\n\nThe parts arrived this morning. Your bike will be ready by 5.\n\n"
            "Thanks,\nPriya",
            "Prices for next week:\n- Cut: £20\n- Colour: £45\n\nOn Monday we open at 9, not 10.",
            "From Tuesday to Friday we are at the market stall.\nAddress: 12 High Street\n"
            "Time: 10:30\n\nSee you there,\nTom",
        ),
        "Is my bike ready? Can I pick it up today?",
        "Hello, I dropped my bike off on Saturday for a new chain and brake pads, and I wanted "
        "to ask whether it will be ready before the weekend because I need it for work on "
        "Monday morning.",
        "Sam Taylor",
        "sam.taylor@example.com",
        "Bike repair",
        "RE:",
        "Priya Shah\nHigh Street Cycles\n01632 960123",
        (
            "Do you have the blue frame in a medium?",
            "Yes, one left.",
            "And can you fit it this week?",
            "Friday afternoon works.",
        ),
    ),
    "de": Language(
        "de",
        (
            "Ja, Donnerstag um 14 Uhr passt.",
            "Hallo Frau Weber,\n\ndie Ersatzteile sind heute gekommen. Ihr Rad ist ab 17 Uhr "
            "fertig.\n\nViele Grüße\nJonas",
            "Preise ab nächster Woche:\n- Schnitt: 20 €\n- Farbe: 45 €\n\n"
            "Am Montag öffnen wir schon um 9 Uhr.",
            "Von Dienstag bis Freitag sind wir auf dem Markt.\nAdresse: Hauptstraße 12\n"
            "Uhrzeit: 10:30\n\nBis dann,\nMia",
        ),
        "Ist mein Fahrrad fertig? Kann ich es heute abholen?",
        "Guten Tag, ich habe am Samstag mein Fahrrad für eine neue Kette und neue Bremsbeläge "
        "abgegeben und wollte fragen, ob es vor dem Wochenende fertig wird, weil ich es am "
        "Montag für die Arbeit brauche.",
        "Anna Weber",
        "anna.weber@example.de",
        "Fahrradreparatur",
        "AW:",
        "Jonas Keller\nRadhaus Keller\n030 1234567",
        (
            "Haben Sie den blauen Rahmen in M?",
            "Ja, noch einen.",
            "Und können Sie ihn diese Woche montieren?",
            "Freitagnachmittag geht.",
        ),
    ),
    "fr": Language(
        "fr",
        (
            "Oui, jeudi à 14 h, c'est possible.",
            "Bonjour Madame Martin,\n\nLes pièces sont arrivées ce matin. Votre vélo sera prêt "
            "à 17 h.\n\nCordialement,\nLuc",
            "Tarifs à partir de la semaine prochaine :\n- Coupe : 20 €\n- Couleur : 45 €\n\n"
            "Le lundi nous ouvrons dès 9 h.",
            "De mardi à vendredi nous sommes au marché.\nAdresse : 12 rue Haute\n"
            "Heure : 10 h 30\n\nÀ bientôt,\nClaire",
        ),
        "Mon vélo est-il prêt ? Je peux passer le chercher aujourd'hui ?",
        "Bonjour, j'ai déposé mon vélo samedi pour une nouvelle chaîne et des plaquettes de "
        "frein, et je voulais savoir s'il serait prêt avant le week-end car j'en ai besoin "
        "lundi matin pour aller au travail.",
        "Camille Martin",
        "camille.martin@example.fr",
        "Réparation vélo",
        "RE :",
        "Luc Bernard\nCycles Bernard\n01 23 45 67 89",
        (
            "Avez-vous le cadre bleu en taille M ?",
            "Oui, il en reste un.",
            "Et pouvez-vous le monter cette semaine ?",
            "Vendredi après-midi, c'est bon.",
        ),
    ),
    "es": Language(
        "es",
        (
            "Sí, el jueves a las 14:00 nos viene bien.",
            "Hola Sr. García:\n\nLas piezas llegaron esta mañana. Su bicicleta estará lista a "
            "las 17:00.\n\nUn saludo,\nLucía",
            "Precios desde la semana que viene:\n- Corte: 20 €\n- Color: 45 €\n\n"
            "El lunes abrimos a las 9:00.",
            "De martes a viernes estamos en el mercado.\nDirección: Calle Mayor 12\n"
            "Hora: 10:30\n\nHasta pronto,\nPablo",
        ),
        "¿Está lista mi bici? ¿Puedo recogerla hoy?",
        "Hola, dejé mi bicicleta el sábado para cambiar la cadena y las pastillas de freno, y "
        "quería saber si estará lista antes del fin de semana porque la necesito el lunes por "
        "la mañana para ir al trabajo.",
        "Javier García",
        "javier.garcia@example.es",
        "Reparación bici",
        "RE:",
        "Lucía Torres\nBicis Torres\n912 345 678",
        (
            "¿Tienen el cuadro azul en talla M?",
            "Sí, nos queda uno.",
            "¿Y pueden montarlo esta semana?",
            "El viernes por la tarde, sí.",
        ),
    ),
    "it": Language(
        "it",
        (
            "Sì, giovedì alle 14 va benissimo.",
            "Buongiorno signora Rossi,\n\ni ricambi sono arrivati stamattina. La bici sarà "
            "pronta alle 17.\n\nCordiali saluti,\nMarco",
            "Prezzi dalla prossima settimana:\n- Taglio: 20 €\n- Colore: 45 €\n\n"
            "Il lunedì apriamo alle 9.",
            "Da martedì a venerdì siamo al mercato.\nIndirizzo: Via Roma 12\nOra: 10:30\n\n"
            "A presto,\nGiulia",
        ),
        "La mia bici è pronta? Posso ritirarla oggi?",
        "Buongiorno, sabato ho lasciato la bici per una catena nuova e le pastiglie dei freni "
        "e volevo sapere se sarà pronta prima del fine settimana, perché lunedì mattina mi "
        "serve per andare al lavoro.",
        "Laura Rossi",
        "laura.rossi@example.it",
        "Riparazione bici",
        "R:",
        "Marco Bianchi\nCicli Bianchi\n02 1234 5678",
    ),
    "nl": Language(
        "nl",
        (
            "Ja, donderdag om 14.00 uur kan prima.",
            "Hallo mevrouw de Vries,\n\nDe onderdelen zijn vanochtend binnengekomen. Uw fiets "
            "is om 17.00 uur klaar.\n\nMet vriendelijke groet,\nDaan",
            "Prijzen vanaf volgende week:\n- Knippen: € 20\n- Kleuren: € 45\n\n"
            "Op maandag gaan we al om 9 uur open.",
            "Van dinsdag tot en met vrijdag staan we op de markt.\nAdres: Hoofdstraat 12\n"
            "Tijd: 10.30 uur\n\nTot dan,\nSanne",
        ),
        "Is mijn fiets klaar? Kan ik hem vandaag ophalen?",
        "Hallo, ik heb zaterdag mijn fiets gebracht voor een nieuwe ketting en nieuwe "
        "remblokken en ik wilde vragen of hij voor het weekend klaar is, want ik heb hem "
        "maandagochtend nodig voor mijn werk.",
        "Eva de Vries",
        "eva.devries@example.nl",
        "Fietsreparatie",
        "RE:",
        "Daan Jansen\nFietshuis Jansen\n020 123 4567",
    ),
    "pt": Language(
        "pt",
        (
            "Sim, quinta-feira às 14h funciona.",
            "Olá, Sra. Souza,\n\nAs peças chegaram hoje de manhã. A sua bicicleta fica pronta "
            "às 17h.\n\nAtenciosamente,\nRafael",
            "Preços a partir da próxima semana:\n- Corte: R$ 40\n- Coloração: R$ 90\n\n"
            "Em dias de feriado abrimos às 10h.",
            "De terça a sexta estamos na feira.\nEndereço: Rua Alta, 12\nHorário: 10h30\n\n"
            "Até logo,\nBeatriz",
        ),
        "A minha bicicleta está pronta? Posso buscá-la hoje?",
        "Olá, deixei a minha bicicleta no sábado para trocar a corrente e as pastilhas de "
        "freio e queria saber se fica pronta antes do fim de semana, porque preciso dela na "
        "segunda de manhã para ir trabalhar.",
        "Ana Souza",
        "ana.souza@example.com.br",
        "Conserto da bicicleta",
        "RE:",
        "Rafael Lima\nBicicletaria Lima\n(11) 3456-7890",
    ),
    "sv": Language(
        "sv",
        (
            "Ja, torsdag kl. 14 går bra.",
            "Hej Anna,\n\nDelarna kom i morse. Din cykel är klar kl. 17.\n\n"
            "Vänliga hälsningar\nErik",
            "Priser från nästa vecka:\n- Klippning: 250 kr\n- Färgning: 600 kr\n\n"
            "Den 10 mars har vi stängt hela dagen.",
            "Från tisdag till fredag står vi på torget.\nAdress: Storgatan 12\nTid: 10.30\n\n"
            "Vi ses,\nKarin",
        ),
        "Är min cykel klar? Kan jag hämta den i dag?",
        "Hej, jag lämnade in min cykel i lördags för en ny kedja och nya bromsklossar och "
        "undrar om den blir klar före helgen, eftersom jag behöver den till jobbet på måndag "
        "morgon.",
        "Anna Lindqvist",
        "anna.lindqvist@example.se",
        "Cykelreparation",
        "SV:",
        "Erik Berg\nBergs Cykel\n08-123 456 78",
    ),
    "da": Language(
        "da",
        (
            "Ja, torsdag kl. 14 passer fint.",
            "Hej Mette,\n\nReservedelene kom i morges. Din cykel er klar kl. 17.\n\n"
            "Venlig hilsen\nMads",
            "Priser fra næste uge:\n- Klip: 250 kr.\n- Farve: 600 kr.\n\n"
            "Den 10. marts holder vi lukket hele dagen.",
            "Fra tirsdag til fredag står vi på torvet.\nAdresse: Storegade 12\nTid: 10.30\n\n"
            "Vi ses,\nSofie",
        ),
        "Er min cykel klar? Kan jeg hente den i dag?",
        "Hej, jeg afleverede min cykel i lørdags til en ny kæde og nye bremseklodser, og jeg "
        "ville høre, om den bliver klar inden weekenden, fordi jeg skal bruge den til arbejde "
        "mandag morgen.",
        "Mette Nielsen",
        "mette.nielsen@example.dk",
        "Cykelreparation",
        "SV:",
        "Mads Holm\nHolms Cykler\n33 12 34 56",
    ),
    "nb": Language(
        "nb",
        (
            "Ja, torsdag kl. 14 passer bra.",
            "Hei Ingrid,\n\nDelene kom i morges. Sykkelen din er klar kl. 17.\n\n"
            "Med vennlig hilsen\nOla",
            "Priser fra neste uke:\n- Klipp: 350 kr\n- Farge: 800 kr\n\n"
            "På mandag åpner vi allerede kl. 9.",
            "Fra tirsdag til fredag står vi på torget.\nAdresse: Storgata 12\nTid: 10.30\n\n"
            "Sees,\nNora",
        ),
        "Er sykkelen min ferdig? Kan jeg hente den i dag?",
        "Hei, jeg leverte sykkelen min på lørdag for ny kjede og nye bremseklosser, og lurte "
        "på om den blir ferdig før helgen, for jeg trenger den til jobben mandag morgen.",
        "Ingrid Hansen",
        "ingrid.hansen@example.no",
        "Sykkelreparasjon",
        "SV:",
        "Ola Nordmann\nNordmann Sykkel\n22 12 34 56",
    ),
    "fi": Language(
        "fi",
        (
            "Kyllä, torstaina klo 14 sopii hyvin.",
            "Hei Liisa,\n\nVaraosat tulivat tänä aamuna. Pyöräsi on valmis klo 17.\n\n"
            "Ystävällisin terveisin\nMikko",
            "Hinnat ensi viikosta alkaen:\n- Leikkaus: 35 €\n- Väri: 80 €\n\n"
            "Maanantaina avaamme jo klo 9.",
            "Tiistaista perjantaihin olemme torilla.\nOsoite: Kauppakatu 12\nAika: 10.30\n\n"
            "Nähdään,\nAino",
        ),
        "Onko pyöräni valmis? Voinko hakea sen tänään?",
        "Hei, toin pyöräni lauantaina uutta ketjua ja uusia jarrupaloja varten ja halusin "
        "kysyä, onko se valmis ennen viikonloppua, koska tarvitsen sitä maanantaiaamuna "
        "töihin.",
        "Liisa Virtanen",
        "liisa.virtanen@example.fi",
        "Pyörän korjaus",
        "VS:",
        "Mikko Korhonen\nKorhosen Pyörä\n09 123 4567",
    ),
    "pl": Language(
        "pl",
        (
            "Tak, czwartek o 14:00 pasuje.",
            "Dzień dobry Pani Anno,\n\nczęści dotarły dziś rano. Rower będzie gotowy o 17:00.\n\n"
            "Pozdrawiam\nTomasz",
            "Ceny od przyszłego tygodnia:\n- Strzyżenie: 60 zł\n- Koloryzacja: 150 zł\n\n"
            "W poniedziałek otwieramy już o 9:00.",
            "Od wtorku do piątku jesteśmy na targu.\nAdres: ul. Główna 12\nGodzina: 10:30\n\n"
            "Do zobaczenia,\nKasia",
        ),
        "Czy mój rower jest gotowy? Mogę go dziś odebrać?",
        "Dzień dobry, w sobotę zostawiłem rower do wymiany łańcucha i klocków hamulcowych i "
        "chciałem zapytać, czy będzie gotowy przed weekendem, bo potrzebuję go w poniedziałek "
        "rano do pracy.",
        "Anna Kowalska",
        "anna.kowalska@example.pl",
        "Naprawa roweru",
        "Odp:",
        "Tomasz Nowak\nRowery Nowak\n22 123 45 67",
    ),
    "cs": Language(
        "cs",
        (
            "Ano, čtvrtek ve 14 hodin se hodí.",
            "Dobrý den, paní Nováková,\n\nnáhradní díly dorazily dnes ráno. Kolo bude hotové "
            "v 17 hodin.\n\nS pozdravem\nPetr",
            "Ceny od příštího týdne:\n- Střih: 300 Kč\n- Barvení: 700 Kč\n\n"
            "V pondělí otevíráme už v 9 hodin.",
            "Od úterý do pátku jsme na trhu.\nAdresa: Hlavní 12\nČas: 10:30\n\nNa shledanou,\nEva",
        ),
        "Je moje kolo hotové? Můžu si ho dnes vyzvednout?",
        "Dobrý den, v sobotu jsem u vás nechal kolo kvůli novému řetězu a brzdovým destičkám "
        "a chtěl jsem se zeptat, jestli bude hotové před víkendem, protože ho v pondělí ráno "
        "potřebuji do práce.",
        "Jana Nováková",
        "jana.novakova@example.cz",
        "Oprava kola",
        "RE:",
        "Petr Dvořák\nKola Dvořák\n222 123 456",
    ),
    "ru": Language(
        "ru",
        (
            "Да, в четверг в 14:00 можно.",
            "Здравствуйте, Ольга!\n\nЗапчасти пришли сегодня утром. Велосипед будет готов к "
            "17:00.\n\nС уважением,\nИван",
            "Цены со следующей недели:\n- Стрижка: 900 ₽\n- Окрашивание: 2500 ₽\n\n"
            "В понедельник открываемся в 9:00.",
            "Со вторника по пятницу мы на рынке.\nАдрес: ул. Ленина, 12\nВремя: 10:30\n\n"
            "До встречи,\nМария",
        ),
        "Мой велосипед готов? Можно забрать сегодня?",
        "Здравствуйте, в субботу я оставил у вас велосипед, чтобы заменить цепь и тормозные "
        "колодки, и хотел узнать, будет ли он готов до выходных, потому что в понедельник "
        "утром он нужен мне для работы.",
        "Ольга Смирнова",
        "olga.smirnova@example.ru",
        "Ремонт велосипеда",
        "RE:",
        "Иван Петров\nВелосервис Петрова\n+7 495 123-45-67",
    ),
    "tr": Language(
        "tr",
        (
            "Evet, perşembe saat 14:00 uygun.",
            "Merhaba Ayşe Hanım,\n\nParçalar bu sabah geldi. Bisikletiniz saat 17:00'de hazır "
            "olacak.\n\nSaygılarımla,\nMehmet",
            "Gelecek haftadan itibaren fiyatlar:\n- Kesim: 300 TL\n- Boya: 800 TL\n\n"
            "Pazartesi günü saat 9'da açıyoruz.",
            "Salıdan cumaya kadar pazardayız.\nAdres: Cumhuriyet Cad. 12\nSaat: 10:30\n\n"
            "Görüşmek üzere,\nElif",
        ),
        "Bisikletim hazır mı? Bugün alabilir miyim?",
        "Merhaba, cumartesi günü bisikletimi yeni zincir ve fren balatası için bıraktım ve "
        "hafta sonundan önce hazır olup olmayacağını sormak istedim, çünkü pazartesi sabahı "
        "işe gitmek için ona ihtiyacım var.",
        "Ayşe Yılmaz",
        "ayse.yilmaz@example.com.tr",
        "Bisiklet tamiri",
        "YNT:",
        "Mehmet Demir\nDemir Bisiklet\n0212 123 45 67",
    ),
    "ja": Language(
        "ja",
        (
            "はい、木曜日の14時で大丈夫です。",
            "田中様\n\n部品が今朝届きました。自転車は17時に仕上がります。\n\n"
            "よろしくお願いいたします。\n佐藤",
            "来週からの料金:\n- カット: 4,000円\n- カラー: 8,000円\n\n月曜日は9時から営業します。",
            "火曜日から金曜日まで市場に出店しています。\n住所: 中央通り12\n時間: 10:30\n\n"
            "お待ちしております。\n鈴木",
        ),
        "自転車の修理は終わりましたか？今日受け取れますか？",
        "こんにちは。土曜日にチェーンとブレーキパッドの交換のため自転車を預けましたが、月曜日の朝に"
        "通勤で使うので、週末までに仕上がるかどうか教えていただけますか。よろしくお願いします。",
        "田中花子",
        "hanako.tanaka@example.jp",
        "自転車の修理",
        "RE:",
        "佐藤健\nサトウ自転車\n03-1234-5678",
    ),
    "zh": Language(
        "zh",
        (
            "可以，周四下午两点没问题。",
            "王女士您好，\n\n零件今天早上到了，您的自行车下午五点可以取。\n\n祝好，\n李明",
            "下周起的价格：\n- 剪发：80元\n- 染发：200元\n\n周一我们早上九点开门。",
            "周二到周五我们在集市摆摊。\n地址：中山路12号\n时间：10:30\n\n到时见，\n张伟",
        ),
        "我的自行车修好了吗？今天可以取吗？",
        "您好，我周六把自行车送来更换链条和刹车片，想问一下周末之前能不能修好，因为周一早上我要骑车"
        "去上班，谢谢。麻烦您回复一下大概几点可以来取车。",
        "王芳",
        "wang.fang@example.cn",
        "自行车维修",
        "答复:",
        "李明\n明记车行\n010-1234-5678",
    ),
    "ko": Language(
        "ko",
        (
            "네, 목요일 오후 2시 괜찮습니다.",
            "김지은 님, 안녕하세요.\n\n부품이 오늘 아침에 도착했습니다. 자전거는 오후 5시에 "
            "찾으실 수 있습니다.\n\n감사합니다.\n박민수",
            "다음 주부터 가격:\n- 커트: 20,000원\n- 염색: 50,000원\n\n"
            "월요일에는 오전 9시에 문을 엽니다.",
            "화요일부터 금요일까지 시장에 있습니다.\n주소: 중앙로 12\n시간: 10:30\n\n"
            "그때 뵙겠습니다.\n이서연",
        ),
        "자전거 수리 끝났나요? 오늘 찾으러 가도 될까요?",
        "안녕하세요, 토요일에 체인과 브레이크 패드 교체 때문에 자전거를 맡겼는데요, 월요일 아침에 "
        "출근할 때 써야 해서 주말 전에 수리가 끝날 수 있는지 여쭤보고 싶습니다.",
        "김지은",
        "jieun.kim@example.kr",
        "자전거 수리",
        "회신:",
        "박민수\n민수자전거\n02-123-4567",
    ),
    "hu": Language(
        "hu",
        (
            "Igen, csütörtökön 14 órakor jó.",
            "Kedves Anna!\n\nAz alkatrészek ma reggel megérkeztek. A kerékpár 17 órára "
            "elkészül.\n\nÜdvözlettel:\nGábor",
            "Árak jövő héttől:\n- Vágás: 6000 Ft\n- Festés: 15000 Ft\n\n"
            "Hétfőn már 9 órakor nyitunk.",
            "Keddtől péntekig a piacon vagyunk.\nCím: Fő utca 12\nIdőpont: 10:30\n\n"
            "Viszontlátásra,\nZsófia",
        ),
        "Elkészült a biciklim? Ma el tudom vinni?",
        "Jó napot, szombaton leadtam a kerékpáromat új láncra és fékbetétekre, és szeretném "
        "megkérdezni, hogy elkészül-e a hétvége előtt, mert hétfő reggel szükségem lesz rá a "
        "munkához.",
        "Nagy Anna",
        "anna.nagy@example.hu",
        "Kerékpárjavítás",
        "Vá:",
        "Kovács Gábor\nKovács Bringa\n06 1 234 5678",
    ),
    "el": Language(
        "el",
        (
            "Ναι, την Πέμπτη στις 14:00 μας βολεύει.",
            "Καλημέρα κυρία Παπαδοπούλου,\n\nΤα ανταλλακτικά ήρθαν σήμερα το πρωί. Το ποδήλατο "
            "θα είναι έτοιμο στις 17:00.\n\nΜε εκτίμηση,\nΝίκος",
            "Τιμές από την επόμενη εβδομάδα:\n- Κούρεμα: 15 €\n- Βαφή: 40 €\n\n"
            "Τη Δευτέρα ανοίγουμε στις 9:00.",
            "Από Τρίτη έως Παρασκευή είμαστε στη λαϊκή.\nΔιεύθυνση: Οδός Ερμού 12\n"
            "Ώρα: 10:30\n\nΤα λέμε,\nΜαρία",
        ),
        "Είναι έτοιμο το ποδήλατό μου; Μπορώ να το πάρω σήμερα;",
        "Καλησπέρα, το Σάββατο σας άφησα το ποδήλατο για καινούργια αλυσίδα και τακάκια "
        "φρένων και ήθελα να ρωτήσω αν θα είναι έτοιμο πριν από το Σαββατοκύριακο, γιατί το "
        "χρειάζομαι τη Δευτέρα το πρωί για τη δουλειά.",
        "Ελένη Παπαδοπούλου",
        "eleni.papadopoulou@example.gr",
        "Επισκευή ποδηλάτου",
        "ΑΠ:",
        "Νίκος Γεωργίου\nΠοδήλατα Γεωργίου\n210 123 4567",
    ),
}

# The business's own address, on the To: line of quoted headers.
SHOP = "Bike Shop <shop@example.org>"
