"""What the demo's salespeople said about the library: ratings and stale flags, so the freshness queue has work.

Flags are the kind sales really raise (a price that moved after the list was published, sizes customers ask
for that a catalog lacks), so a newcomer sees the loop as it is meant to be used.
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
    ("Прайс-лист насосов НВ (дилерский)", "o.sidorova@demo.kb", 2, "Опции по старым ценам"),
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
        "С 1 декабря двигатели IE4 подорожали: доплата за опцию IE4 в прайсе уже не та",
        2,
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
