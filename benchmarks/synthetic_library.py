"""A synthetic sales library for the search benchmark: mixed Russian/English text, product codes, page-sized slides.

Everything comes from ``random.Random`` seeded from the benchmark seed, so one seed always gives the same
library, byte for byte. Each asset is an OpenDocument presentation (ODP): kb extracts an ODP slide by slide
(``kb.extraction.odf.extract_presentation``: one page per ``draw:page``, titled with its title frame), which
keeps the pages of the library, and it is the cheapest multi-page format to write (a ZIP of three small XML
parts, no library needed) and to read (one XML parse). TXT, Markdown, DOCX and ODT are extracted as a single
page, so they cannot carry a library of page-sized documents.

Word frequencies follow a Zipf-Mandelbrot law over a vocabulary of real domain words (Russian nouns,
adjectives and verbs in their inflected forms, English words) followed by a long tail of invented words,
as a real corpus of this size has; stop words of both languages and product codes (``KX-200``,
``НВ-250/4``) are mixed in, and a few fixed collocations make phrase queries meaningful.
"""

from __future__ import annotations

import io
import itertools
import random
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

# --- vocabulary ---------------------------------------------------------------------------------------------

#: Masculine nouns with a hard stem: насос, насоса, насосу, насосом, насосе, насосы, насосов, ...
_RU_MASCULINE = (
    "насос клапан компрессор фильтр привод датчик корпус монтаж сервис заказ договор проект объект клиент "
    "партнер дилер склад регион рынок сегмент тендер каталог стандарт контроль ресурс режим расход напор "
    "трубопровод водоканал теплообменник узел агрегат шкаф кабель модуль ремонт запуск завод цех бюджет "
    "график отчет расчет параметр диаметр вентилятор резервуар коллектор манометр редуктор подшипник"
).split()
_RU_MASCULINE_ENDINGS = ("", "а", "у", "ом", "е", "ы", "ов", "ам", "ами", "ах")
_RU_MASCULINE_WEIGHTS = (30, 20, 6, 8, 8, 12, 9, 2, 3, 2)
#: Feminine nouns in -а: поставка, поставки, поставке, поставку, поставкой, ...
_RU_FEMININE = (
    "поставк систем установк схем цен скидк услуг задач линейк котельн заявк площадк трубк смет накладн"
).split()
_RU_FEMININE_ENDINGS = ("а", "и", "е", "у", "ой", "ам", "ами", "ах")
_RU_FEMININE_WEIGHTS = (30, 25, 10, 12, 8, 3, 3, 3)
#: Feminine nouns in -ия: станция, станции, станцию, станцией, станций, ...
_RU_IYA = (
    "станц документац конструкц гарант комплектац модификац эксплуатац презентац консультац информац "
    "организац автоматизац модернизац реконструкц спецификац"
).split()
_RU_IYA_ENDINGS = ("ия", "ии", "ию", "ией", "ий", "иям", "иями", "иях")
_RU_IYA_WEIGHTS = (30, 30, 10, 6, 10, 3, 3, 3)
#: Neuter nouns in -ие: оборудование, оборудования, оборудованию, оборудованием, ...
_RU_IE = (
    "оборудован исполнен обслуживан решен давлен применен предложен управлен подключен требован "
    "снабжен отоплен водоснабжен энергопотреблен техобслуживан"
).split()
_RU_IE_ENDINGS = ("ие", "ия", "ию", "ием", "ии", "ий", "иям", "иями", "иях")
_RU_IE_WEIGHTS = (30, 30, 8, 10, 10, 6, 2, 2, 2)
#: Adjectives in -ый / -ий: насосный, насосного, насосному, насосным, насосная, ...
_RU_ADJ_HARD = (
    "насосн промышленн надежн энергоэффективн погружн центробежн модульн гарантийн сервисн региональн "
    "нов основн дополнительн стандартн полн номинальн винтов муниципальн специальн серийн"
).split()
_RU_ADJ_HARD_ENDINGS = ("ый", "ого", "ому", "ым", "ом", "ая", "ой", "ую", "ое", "ые", "ых", "ыми")
_RU_ADJ_SOFT = "техническ коммерческ электрическ рабоч автоматическ гидравлическ".split()
_RU_ADJ_SOFT_ENDINGS = ("ий", "ого", "ому", "им", "ом", "ая", "ой", "ую", "ое", "ие", "их", "ими")
_RU_ADJ_WEIGHTS = (20, 14, 3, 6, 6, 16, 10, 6, 8, 12, 10, 3)
_RU_VERBS = (
    "обеспечивает обеспечивают обеспечить поставляет поставляем поставить снижает снижают снизить позволяет "
    "позволяют включает включают соответствует соответствуют работает работают требует требуют "
    "гарантирует предлагает предлагаем рекомендуем рекомендуется допускается выполняется выполнить "
    "подключается подключить устанавливается установить обслуживает эксплуатируется"
).split()
_EN_WORDS = (
    "pump pumps pumping pumped valve valves compressor compressors station stations warranty service services "
    "delivery installation installed maintenance efficiency efficient pressure flow customer customers tender "
    "tenders contract contracts price prices pricing discount specification specifications datasheet catalog "
    "model models series system systems control controls motor motors drive drives sensor sensors reliability "
    "reliable energy industrial municipal water heating cooling supply network partner partners dealer dealers "
    "region regional market markets segment solution solutions project projects application applications "
    "performance capacity rated power voltage frequency operating temperature range standard certificate "
    "compliance requirements documentation manual training support spare parts lead order orders quote "
    "proposal offer savings cost costs total ownership lifecycle upgrade retrofit monitoring remote digital "
    "smart booster submersible centrifugal screw piston head impeller bearing seal housing casing flange "
    "pipeline utility utilities plant plants facility commissioning startup inspection audit payback "
    "reduction reduces reduce provides provide ensures ensure delivers deliver includes include meets meet "
    "operates operate requires require recommended available optional certified approved compact modular "
    "robust quiet durable stainless steel cast iron bronze pressure-rated variable speed inverter"
).split()
_RU_STOP = "и в на с для по не от к до при о из что как или а но также это".split()
_EN_STOP = "the of and to in for with on is by a an are at as or be this that from".split()
#: Collocations that appear as such, so that phrase queries find something.
COLLOCATIONS_RU = (
    "технические характеристики",
    "срок поставки",
    "гарантийное обслуживание",
    "насосная станция",
    "коммерческое предложение",
    "центробежный насос",
)
COLLOCATIONS_EN = (
    "energy efficiency",
    "total cost of ownership",
    "lead time",
    "service level agreement",
    "booster pump station",
)
_RU_SYLLABLES = [c + v for c in "бвгдзклмнпрстфхцчшщ" for v in "аеиоуыя"]
_EN_SYLLABLES = [c + v for c in "bcdfghklmnprstvwz" for v in "aeiou"] + ["th", "ch", "st", "tr", "pl"]
_RU_TAIL_ENDINGS = ("", "а", "у", "ом", "ы", "ов", "е")
_RU_TAIL_WEIGHTS = (40, 20, 5, 8, 12, 10, 5)

#: Product families: (name in titles, code prefixes) and code shapes.
PRODUCTS = (
    ("Насосы НВ", "НВ"),
    ("Насосы ЦН", "ЦН"),
    ("Насосы ЭЦВ", "ЭЦВ"),
    ("Компрессоры КМ", "КМ"),
    ("Клапаны СД", "СД"),
    ("Станции ГН", "ГН"),
    ("KX compressors", "KX"),
    ("PX pumps", "PX"),
    ("VX valves", "VX"),
    ("MX drives", "MX"),
    ("TS sensors", "TS"),
    ("GR boosters", "GR"),
)
KIND_TITLES = {
    "catalog": ("Каталог", "Catalog"),
    "presentation": ("Презентация", "Presentation"),
    "tender_template": ("Шаблон тендерной документации", "Tender template"),
    "datasheet": ("Технический паспорт", "Datasheet"),
    "case_study": ("Кейс внедрения", "Case study"),
}
KINDS = tuple(KIND_TITLES)
KIND_WEIGHTS = (25, 25, 10, 30, 10)
SEGMENT_CHOICES = (("B2B",), ("B2G",), ("B2C",), ("B2B", "B2G"), ("B2B", "B2C"), ("B2B", "B2C", "B2G"))
REGIONS = ("Россия", "Москва", "Санкт-Петербург", "Урал", "Сибирь", "Казахстан", "CIS", "Export")
LANGUAGES = ("ru", "en", "mixed")
LANGUAGE_WEIGHTS = (60, 15, 25)
#: Share of Russian words in running text by the asset's language.
RUSSIAN_SHARE = {"ru": 0.9, "en": 0.08, "mixed": 0.6}

WORDS_PER_PAGE = 300
MAX_PAGES = 20
MEAN_PAGES = 6.0
TAIL_WORDS = 30_000  # invented lemmas per language
#: Lemmas (by their first form) put at a fixed frequency rank, so the query mix has frequent and medium words.
PINNED_RU = {"насос": 2, "оборудование": 5, "станция": 9, "насосный": 15, "поставка": 20, "клапан": 45}
PINNED_EN = {"pump": 3, "valve": 14, "pumps": 12, "compressor": 25, "pumping": 40, "warranty": 70}


def _pin(lemmas: list[list[tuple[str, float]]], pinned: dict[str, int]) -> None:
    """Moves the lemmas named in ``pinned`` (by first form) to their 1-based ranks."""
    chosen = {lemma[0][0]: lemma for lemma in lemmas if lemma[0][0] in pinned}
    for lemma in chosen.values():
        lemmas.remove(lemma)
    for first, rank in sorted(pinned.items(), key=lambda item: item[1]):
        lemmas.insert(rank - 1, chosen[first])


class Language:
    """One language's vocabulary: word forms with Zipf-Mandelbrot weights by the rank of their lemma."""

    def __init__(self, lemmas: list[list[tuple[str, float]]], stop: list[str]) -> None:
        forms: list[str] = []
        weights: list[float] = []
        for rank, lemma in enumerate(lemmas, start=1):
            lemma_weight = 1.0 / (rank + 2.7) ** 1.15
            for form, share in lemma:
                forms.append(form)
                weights.append(lemma_weight * share)
        self.forms = forms
        self.cumulative = list(itertools.accumulate(weights))
        self.stop = stop

    def words(self, rng: random.Random, count: int) -> list[str]:
        return rng.choices(self.forms, cum_weights=self.cumulative, k=count)


def _russian(rng: random.Random) -> Language:
    lemmas: list[list[tuple[str, float]]] = []
    groups = (
        (_RU_MASCULINE, _RU_MASCULINE_ENDINGS, _RU_MASCULINE_WEIGHTS),
        (_RU_FEMININE, _RU_FEMININE_ENDINGS, _RU_FEMININE_WEIGHTS),
        (_RU_IYA, _RU_IYA_ENDINGS, _RU_IYA_WEIGHTS),
        (_RU_IE, _RU_IE_ENDINGS, _RU_IE_WEIGHTS),
        (_RU_ADJ_HARD, _RU_ADJ_HARD_ENDINGS, _RU_ADJ_WEIGHTS),
        (_RU_ADJ_SOFT, _RU_ADJ_SOFT_ENDINGS, _RU_ADJ_WEIGHTS),
    )
    for stems, endings, weights in groups:
        total = sum(weights)
        for stem in stems:
            lemmas.append([(stem + e, w / total) for e, w in zip(endings, weights, strict=True)])
    lemmas += [[(verb, 1.0)] for verb in _RU_VERBS]
    rng.shuffle(lemmas)
    _pin(lemmas, PINNED_RU)
    seen = {form for lemma in lemmas for form, _ in lemma}
    tail_total = sum(_RU_TAIL_WEIGHTS)
    while len(lemmas) < len(_RU_VERBS) + TAIL_WORDS:
        stem = "".join(rng.choices(_RU_SYLLABLES, k=rng.choice((2, 3, 3, 4)))) + rng.choice("нрклтсвм")
        if stem in seen:
            continue
        seen.add(stem)
        lemmas.append([(stem + e, w / tail_total) for e, w in zip(_RU_TAIL_ENDINGS, _RU_TAIL_WEIGHTS, strict=True)])
    return Language(lemmas, _RU_STOP)


def _english(rng: random.Random) -> Language:
    lemmas: list[list[tuple[str, float]]] = [[(word, 1.0)] for word in dict.fromkeys(_EN_WORDS)]
    rng.shuffle(lemmas)
    _pin(lemmas, PINNED_EN)
    seen = {lemma[0][0] for lemma in lemmas}
    while len(lemmas) < TAIL_WORDS:
        word = "".join(rng.choices(_EN_SYLLABLES, k=rng.choice((2, 3, 3, 4)))) + rng.choice(("", "s", "er", "ing"))
        if word not in seen:
            seen.add(word)
            lemmas.append([(word, 1.0)])
    return Language(lemmas, _EN_STOP)


def product_codes(rng: random.Random) -> dict[str, list[str]]:
    """Codes per product prefix: ``KX-200``, ``НВ-250/4``, ``ЦН-160/2``, ``TS-40``."""
    codes: dict[str, list[str]] = {}
    for _name, prefix in PRODUCTS:
        family: set[str] = set()
        while len(family) < 30:
            number = rng.choice((40, 50, 63, 80, 100, 125, 160, 200, 250, 315, 400, 500, 630, 800))
            if rng.random() < 0.5:
                family.add(f"{prefix}-{number}/{rng.randint(1, 8)}")
            else:
                family.add(f"{prefix}-{number}")
        codes[prefix] = sorted(family)
    return codes


# --- assets ---------------------------------------------------------------------------------------------


@dataclass
class SyntheticAsset:
    number: int
    title: str
    kind: str
    description: str
    product: str
    segments: list[str]
    region: str
    language: str
    tags: list[str]
    age_days: int
    pages: list[tuple[str, str]] = field(default_factory=list)  # (slide title, body text)

    @property
    def words(self) -> int:
        return sum(len(body.split()) for _title, body in self.pages)

    @property
    def filename(self) -> str:
        return f"asset-{self.number:05d}.odp"


class LibraryGenerator:
    """Assets ``0 .. n-1`` of one seed; ``asset(i)`` gives the same asset whatever was generated before it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        rng = random.Random(f"vocabulary:{seed}")
        self.russian = _russian(rng)
        self.english = _english(rng)
        self.codes = product_codes(rng)

    def page_count(self, rng: random.Random) -> int:
        # 1 + a geometric number: mean MEAN_PAGES, capped at MAX_PAGES (the cap takes off about 0.1).
        return min(MAX_PAGES, 1 + int(rng.expovariate(1 / (MEAN_PAGES - 0.45))))

    def asset(self, number: int) -> SyntheticAsset:
        rng = random.Random(f"asset:{self.seed}:{number}")
        product, prefix = rng.choice(PRODUCTS)
        kind = rng.choices(KINDS, weights=KIND_WEIGHTS)[0]
        language = rng.choices(LANGUAGES, weights=LANGUAGE_WEIGHTS)[0]
        codes = self.codes[prefix]
        code = rng.choice(codes)
        ru_title, en_title = KIND_TITLES[kind]
        if language == "en":
            title = f"{en_title}: {product} {code} {self._sentence(rng, 'en', 2, 4, codes).rstrip('.')}"
        else:
            title = f"{ru_title} {product} {code} {self._sentence(rng, 'ru', 2, 4, codes).rstrip('.').lower()}"
        tags = [code, *dict.fromkeys(self._words(rng, language, 3, codes, allow_codes=False))]
        asset = SyntheticAsset(
            number=number,
            title=title[:300],
            kind=kind,
            description=self._sentence(rng, language, 10, 25, codes),
            product=product,
            segments=list(rng.choice(SEGMENT_CHOICES)),
            region=rng.choice(REGIONS),
            language=language,
            tags=tags[:6],
            age_days=int(rng.triangular(0, 720, 30)),
        )
        for _page in range(self.page_count(rng)):
            target = max(60, int(rng.gauss(WORDS_PER_PAGE, 40)))
            asset.pages.append(
                (self._sentence(rng, language, 3, 7, codes).rstrip("."), self._body(rng, language, target, codes))
            )
        return asset

    def _language_of_word(self, rng: random.Random, language: str) -> Language:
        return self.russian if rng.random() < RUSSIAN_SHARE[language] else self.english

    def _words(
        self, rng: random.Random, language: str, count: int, codes: list[str], *, allow_codes: bool = True
    ) -> list[str]:
        words: list[str] = []
        for _ in range(count):
            draw = rng.random()
            if allow_codes and draw < 0.012:
                words.append(
                    rng.choice(codes) if rng.random() < 0.8 else rng.choice(self.codes[rng.choice(PRODUCTS)[1]])
                )
                continue
            vocabulary = self._language_of_word(rng, language)
            if allow_codes and draw < 0.30:
                words.append(rng.choice(vocabulary.stop))
            else:
                words.append(vocabulary.words(rng, 1)[0])
        return words

    def _sentence(self, rng: random.Random, language: str, low: int, high: int, codes: list[str]) -> str:
        words = self._words(rng, language, rng.randint(low, high), codes)
        if rng.random() < 0.08:
            pool = COLLOCATIONS_RU if self._language_of_word(rng, language) is self.russian else COLLOCATIONS_EN
            at = rng.randrange(len(words) + 1)
            words[at:at] = rng.choice(pool).split()
        text = " ".join(words)
        return text[:1].upper() + text[1:] + "."

    def _body(self, rng: random.Random, language: str, target: int, codes: list[str]) -> str:
        paragraphs: list[str] = []
        sentences: list[str] = []
        count = 0
        while count < target:
            sentence = self._sentence(rng, language, 6, 18, codes)
            sentences.append(sentence)
            count += len(sentence.split())
            if len(sentences) >= rng.randint(3, 6):
                paragraphs.append(" ".join(sentences))
                sentences = []
        if sentences:
            paragraphs.append(" ".join(sentences))
        return "\n".join(paragraphs)

    def assets(self, count: int) -> Iterator[SyntheticAsset]:
        for number in range(count):
            yield self.asset(number)


# --- the file -------------------------------------------------------------------------------------------

_NAMESPACES = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"'
)
ODP_MEDIA_TYPE = "application/vnd.oasis.opendocument.presentation"
_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{ODP_MEDIA_TYPE}"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def _frame(kind: str, paragraphs: list[str]) -> str:
    body = "".join(f"<text:p>{escape(p)}</text:p>" for p in paragraphs)
    return (
        f'<draw:frame presentation:class="{kind}" svg:width="25cm" svg:height="3cm" svg:x="1cm" svg:y="1cm">'
        f"<draw:text-box>{body}</draw:text-box></draw:frame>"
    )


def odp_bytes(pages: list[tuple[str, str]]) -> bytes:
    """An ODP with one slide per (title, body): a title frame and an outline frame with a paragraph per line."""
    slides = "".join(
        f'<draw:page draw:name="page{n}">{_frame("title", [title])}{_frame("outline", body.split(chr(10)))}</draw:page>'
        for n, (title, body) in enumerate(pages, start=1)
    )
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<office:document-content {_NAMESPACES} office:version="1.2">'
        f"<office:body><office:presentation>{slides}</office:presentation></office:body>"
        "</office:document-content>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODP_MEDIA_TYPE, compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", _MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
