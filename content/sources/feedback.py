"""What the demo's salespeople said about the library: ratings and stale flags, so the freshness queue has work.

Flags point at real staleness in the demo content (the dealer price list still shows 2025 prices with 20 % VAT,
the ZKS catalog lacks the PN40 sizes), so a newcomer sees the loop as it is meant to be used.
"""

from __future__ import annotations

SALES = [
    {"email": "o.sidorova@demo.kb", "name": "Ольга Сидорова"},
    {"email": "p.belov@demo.kb", "name": "Павел Белов"},
    {"email": "n.gromova@demo.kb", "name": "Наталья Громова"},
]

RATINGS = [
    ("Каталог центробежных насосов НВ, 2026", "o.sidorova@demo.kb", 5, "Всё по делу, таблицы подбора выручают"),
    ("Каталог центробежных насосов НВ, 2026", "p.belov@demo.kb", 4, ""),
    ("Прайс-лист насосов НВ (дилерский)", "o.sidorova@demo.kb", 2, "Цены прошлого года"),
    ("Прайс-лист насосов НВ (дилерский)", "p.belov@demo.kb", 2, ""),
    ("Прайс-лист насосов НВ (дилерский)", "n.gromova@demo.kb", 1, "Клиент нашёл расхождение с сайтом"),
    ("KX screw compressors: energy savings pitch", "n.gromova@demo.kb", 5, "Customers love the payback slide"),
    ("Каталог запорной арматуры ЗКС", "p.belov@demo.kb", 3, "Нет PN40"),
    ("Аква-Дом: презентация для розничных сетей", "o.sidorova@demo.kb", 4, ""),
]

FLAGS = [
    (
        "Прайс-лист насосов НВ (дилерский)",
        "o.sidorova@demo.kb",
        "prices_outdated",
        "В прайсе цены 2025 года и НДС 20 %, с 1 января НДС 22 %",
        1,
    ),
    ("Прайс-лист насосов НВ (дилерский)", "n.gromova@demo.kb", "prices_outdated", "", None),
    (
        "Каталог запорной арматуры ЗКС",
        "p.belov@demo.kb",
        "missing_info",
        "Нет задвижек на PN40, заказчики спрашивают каждую неделю",
        None,
    ),
]
