"""Screw compressors KX: catalogue, EMEA price list, energy pitch, technical proposal, compliance matrix,
KX-350M datasheet, two case studies and a distributor FAQ."""

from __future__ import annotations

from dataclasses import dataclass

from .common import KIM, MARIA, ORLOVA, ru_date, txt, vat_rate, version, with_vat
from .model import Asset, Document, Section, Table

PRODUCT = "Компрессоры KX"
KX350_LAUNCH = "2026-02-16"


@dataclass(frozen=True)
class Compressor:
    code: str
    article: str
    power: float  # kW
    fad: float  # free air delivery at 8 bar, m³/min (max for the VSD model)
    noise: int  # dB(A) at 1 m
    mass: int  # kg
    size: str  # L × W × H, mm
    outlet: str
    net_rub: int  # 2025 list price without VAT
    eur: int  # 2025 FCA price


COMPRESSORS = [
    Compressor("KX-75", "552-0075", 7.5, 1.2, 66, 210, "900 × 700 × 1000", "G 3/4", 980_000, 11_400),
    Compressor("KX-110", "552-0110", 11.0, 1.75, 67, 320, "1100 × 800 × 1150", "G 1", 1_290_000, 14_900),
    Compressor("KX-200", "552-0200", 22.0, 3.4, 69, 520, "1400 × 900 × 1350", "G 1 1/2", 2_210_000, 24_800),
    Compressor("KX-350M", "552-0350", 37.0, 5.6, 68, 780, "1650 × 1050 × 1600", "G 2", 4_150_000, 46_500),
    Compressor("KX-500", "552-0500", 55.0, 8.4, 72, 1_150, "2000 × 1250 × 1800", "DN 65", 5_100_000, 57_900),
]
BY_CODE = {c.code: c for c in COMPRESSORS}


def lineup(date: str) -> list[Compressor]:
    """KX-350M replaced KX-75 in the range on 16 February 2026."""
    if date >= KX350_LAUNCH:
        return [c for c in COMPRESSORS if c.code != "KX-75"]
    return [c for c in COMPRESSORS if c.code != "KX-350M"]


def rub(c: Compressor, date: str) -> int:
    return round(c.net_rub * (1.04 if date >= KX350_LAUNCH else 1.0) / 1000) * 1000


def eur(c: Compressor, date: str) -> int:
    return round(c.eur * (1.04 if date >= "2026-07-01" else 1.0) / 100) * 100


# --- catalogue --------------------------------------------------------------------------------------------------

CATALOG_DATES = ["2025-04-02", "2026-02-16"]


def _kx_spec(c: Compressor) -> list[list[str | int | float]]:
    return [
        ["Motor power / Мощность двигателя", f"{c.power:g} kW"],
        ["FAD at 8 bar / Производительность при 8 бар", f"{c.fad:g} m³/min"],
        ["Working pressure / Рабочее давление", "7 / 8 / 10 / 13 bar"],
        ["Noise level / Уровень шума (ISO 2151)", f"{c.noise} dB(A)"],
        ["Air outlet / Выход воздуха", c.outlet],
        ["Dimensions L × W × H / Габариты", f"{c.size} mm"],
        ["Weight / Масса", f"{c.mass} kg"],
    ]


def _catalog_small_block(v: int) -> Section:
    if v == 0:
        c = BY_CODE["KX-75"]
        return Section(
            "KX-75: компактный компрессор для мастерских",
            [
                *txt("""
                    KX-75 — самый компактный компрессор линейки: 7,5 кВт, 1,2 м³/мин, установка на ресивере
                    500 л по заказу. Подходит для автосервисов, деревообработки и небольших цехов, где сейчас
                    работает поршневой компрессор и раздражает шум.
                    """),
                Table(["Parameter / Параметр", "Value / Значение"], _kx_spec(c), [60, 40]),
                "Межсервисный интервал — 2 000 часов, замена масла — 4 000 часов.",
            ],
        )
    c = BY_CODE["KX-350M"]
    return Section(
        "KX-350M: частотное регулирование / Variable speed drive",
        [
            *txt("""
                Новинка 2026 года. Встроенный частотный преобразователь и синхронный двигатель на постоянных
                магнитах (IE5) меняют производительность от 1,6 до 5,9 м³/мин при 7 бар, удерживая давление в
                сети с точностью ±0,1 бар. На переменном графике потребления экономия энергии — 20–35 % по
                сравнению с компрессором с регулированием «нагрузка — холостой ход».
                """),
            Table(["Parameter / Параметр", "Value / Значение"], _kx_spec(c), [60, 40]),
            "KX-350M заменяет в линейке KX-75, который снят с производства; запчасти к KX-75 — до 2031 года.",
        ],
    )


def catalog(v: int) -> Document:
    date = CATALOG_DATES[v]
    rate = vat_rate(date)
    models = lineup(date)
    fourth = "KX-350M с частотным приводом" if v else "KX-75"
    return Document(
        "Каталог винтовых компрессоров KX",
        f"Маслозаполненные винтовые компрессоры 7,5–55 кВт · редакция {v + 1} от {ru_date(date)}",
        [
            Section(
                "Винтовые компрессоры KX",
                txt(f"""
                    Компрессоры KX собираются в Колпино на винтовых блоках собственной разработки с
                    асимметричным профилем роторов. Маслозаполненная схема, воздушное охлаждение, встроенный
                    контроллер с журналом событий и выходом Modbus RTU.

                    Страницы каталога: модельный ряд (англоязычная таблица для проектировщиков), KX-110 и KX-200,
                    {fourth}, KX-500, подготовка воздуха, цены, сервис и сертификаты.
                    """),
            ),
            Section(
                "Модельный ряд / Model range",
                [
                    Table(
                        [
                            "Model",
                            "Motor, kW",
                            "FAD @ 8 bar, m³/min",
                            "Max pressure, bar",
                            "Noise, dB(A)",
                            "Weight, kg",
                        ],
                        [[c.code, c.power, c.fad, 13, c.noise, c.mass] for c in models],
                    ),
                    *txt("""
                        Производительность указана по ISO 1217, приложение C (для KX-350M — приложение E), при
                        давлении 8 бар. Для исполнений 10 и 13 бар производительность ниже на 12 и 25 %
                        соответственно.
                        """),
                ],
            ),
            Section(
                "KX-110 и KX-200: компрессоры для цехов",
                [
                    *txt("""
                        Самые продаваемые модели: KX-110 обслуживает участок покраски или упаковочную линию,
                        KX-200 — цех машиностроительного завода с 30–40 точками потребления.
                        """),
                    Table(
                        ["Parameter / Параметр", "KX-110", "KX-200"],
                        [
                            [a[0], a[1], b[1]]
                            for a, b in zip(_kx_spec(BY_CODE["KX-110"]), _kx_spec(BY_CODE["KX-200"]), strict=True)
                        ],
                        [50, 25, 25],
                    ),
                ],
            ),
            _catalog_small_block(v),
            Section(
                "KX-500: компрессорная станция для крупного завода",
                [
                    *txt("""
                        KX-500 — 55 кВт и 8,4 м³/мин. Три таких компрессора с общим контроллером очерёдности
                        заменяют поршневую станцию на 300 м³ воздуха в час. Вентилятор с электронно-
                        коммутируемым двигателем снижает собственные нужды на 1,8 кВт.
                        """),
                    Table(["Parameter / Параметр", "Value / Значение"], _kx_spec(BY_CODE["KX-500"]), [60, 40]),
                ],
            ),
            Section(
                "Подготовка воздуха / Air treatment (ISO 8573-1)",
                [
                    Table(
                        ["Оборудование", "Класс чистоты ISO 8573-1", "Где нужно"],
                        [
                            ["Рефрижераторный осушитель DR (точка росы +3 °C)", "[–:4:–]", "общепромышленный воздух"],
                            ["Адсорбционный осушитель AD (−40 °C)", "[–:2:–]", "наружные сети, пневматика КИП"],
                            ["Фильтры F1 + F01", "[1:–:2]", "покраска, пищевая упаковка"],
                            ["Угольный фильтр FC", "[1:4:1]", "контакт с продуктом"],
                        ],
                        [45, 25, 30],
                    ),
                    "Ресиверы 500–3 000 л поставляются с паспортом по ТР ТС 032/2013.",
                ],
            ),
            Section(
                "Цены / Prices",
                [
                    Table(
                        ["Модель", "Артикул", "Цена без НДС, ₽", f"Цена с НДС {rate} %, ₽"],
                        [[c.code, c.article, rub(c, date), with_vat(rub(c, date), rate)] for c in models],
                    ),
                    *txt(f"""
                        Цены на компрессор в исполнении 8 бар, EXW Колпино, действительны до
                        {"31.12.2025" if v == 0 else "31.12.2026"}. Осушители, фильтры и ресиверы — по отдельному
                        прайс-листу. {"С 16.02.2026 цены повышены на 4 %." if v else ""}
                        """),
                ],
            ),
            Section(
                "Сервис, гарантия и сертификаты",
                txt("""
                    - Гарантия 24 месяца на компрессор; 60 месяцев на винтовой блок при сервисном контракте NordCare
                    - Техническое обслуживание каждые 4 000 часов, замена масла — 8 000 часов
                    - Испытания по ISO 1217 с протоколом; требования безопасности — ГОСТ 12.2.016 и ГОСТ 12.2.003
                    - Декларации ЕАЭС по ТР ТС 010/2011, ТР ТС 004/2011, ТР ТС 020/2011; ресиверы — ТР ТС 032/2013
                    """),
            ),
        ],
        lang="mixed",
    )


# --- EMEA price list ------------------------------------------------------------------------------------------

EMEA_DATES = ["2025-10-01", "2026-07-01"]


def price_list(v: int) -> Document:
    date = EMEA_DATES[v]
    models = lineup(date)
    options = [
        ["DR-35 refrigerant dryer (for KX-75 … KX-200)", "553-1035", 2_150 if v == 0 else 2_240],
        ["DR-90 refrigerant dryer (for KX-350M, KX-500)", "553-1090", 4_300 if v == 0 else 4_470],
        ["Filter set F1 + F01", "553-2001", 640 if v == 0 else 670],
        ["Heat recovery kit (up to 75 % of input power)", "553-3001", 3_900 if v == 0 else 4_060],
        ["Tropical kit, ambient up to +50 °C", "553-4001", 1_200 if v == 0 else 1_250],
        ["Spare parts kit 8,000 h", "553-5008", 890 if v == 0 else 930],
    ]
    if v == 1:
        options.append(["NordTech Connect gateway with 1-year subscription", "553-6001", 620])
    return Document(
        "Price list KX screw compressors, EMEA 2026",
        f"FCA St Petersburg prices in EUR, excluding VAT and duties · valid from {date}",
        [
            Section(
                "KX compressors — export prices",
                [
                    Table(
                        ["Model", "Art. no.", "Motor, kW", "FAD @ 8 bar, m³/min", "FCA price, EUR"],
                        [[c.code, c.article, c.power, c.fad, eur(c, date)] for c in models],
                    ),
                    "KX-75 is discontinued; KX-350M variable speed replaces it." if v else "Prices per unit, 8 bar.",
                ],
                sheet="Compressors",
            ),
            Section(
                "Options and accessories",
                [Table(["Option", "Art. no.", "Price, EUR"], options)],
                sheet="Options",
            ),
            Section(
                "Commercial terms",
                [
                    Table(
                        ["Term", "Condition"],
                        [
                            ["Incoterms 2020", "FCA St Petersburg; DAP on request"],
                            ["Payment", "30 % advance, 70 % before shipment; L/C at sight accepted"],
                            ["Lead time", "6–8 weeks" if v == 0 else "4–6 weeks (KX-350M: 8 weeks)"],
                            ["Warranty", "24 months from commissioning, max. 30 months from shipment"],
                            ["Validity", "until 30.06.2026" if v == 0 else "until 31.12.2026"],
                            ["Minimum order", "1 unit; distributor discounts from 5 units per year"],
                        ],
                    )
                ],
                sheet="Terms",
            ),
        ],
        lang="en",
    )


# --- energy pitch (English deck) ------------------------------------------------------------------------------


def pitch(v: int) -> Document:
    del v
    return Document(
        "KX screw compressors: energy savings pitch",
        "How KX-350M variable speed and heat recovery cut the cost of compressed air · February 2026",
        [
            Section(
                "Compressed air is the most expensive utility",
                txt("""
                    - Up to 10 kWh of electricity for 1 kWh of useful pneumatic work
                    - A typical plant wastes 20–30 % of compressed air through leaks
                    - Energy is 70–80 % of a compressor's lifetime cost
                    """),
                notes="Ask the customer for their annual electricity bill of the compressor room before slide 3.",
            ),
            Section(
                "Where the money goes: 10-year cost of a 37 kW compressor",
                [
                    Table(
                        ["Cost item", "Share", "EUR over 10 years"],
                        [
                            ["Electricity (6,000 h/year at 0.11 EUR/kWh)", "76 %", 244_000],
                            ["Purchase and installation", "15 %", 48_000],
                            ["Service and spare parts", "9 %", 29_000],
                        ],
                        [55, 15, 30],
                    ),
                ],
            ),
            Section(
                "KX-350M: variable speed that follows demand",
                txt("""
                    - 1.6–5.9 m³/min at 7 bar, pressure band ±0.1 bar
                    - IE5 permanent-magnet motor, no gearbox, no belts
                    - Saves 20–35 % energy versus load/unload control on fluctuating demand
                    - Quiet: 68 dB(A), can stand in the workshop
                    """),
            ),
            Section(
                "KX-350M vs a fixed-speed 37 kW compressor",
                [
                    Table(
                        ["Indicator", "Fixed speed", "KX-350M"],
                        [
                            ["Average load profile", "55 %", "55 %"],
                            ["Energy, MWh/year", 198, 146],
                            ["Energy cost, EUR/year", 21_800, 16_100],
                            ["Saving, EUR/year", "—", 5_700],
                        ],
                    ),
                    "Price difference versus a fixed-speed unit pays back in about 2.5 years.",
                ],
                notes="Use the customer's own load profile; data loggers can be borrowed from the service team.",
            ),
            Section(
                "Heat recovery: up to 75 % of input power back",
                txt("""
                    The heat recovery kit heats water to +70 °C for washing, boiler feed or space heating. On a
                    KX-200 running 5,000 hours a year that is about 80 MWh of heat — roughly the gas bill of a
                    small workshop building.
                    """),
            ),
            Section(
                "Service and monitoring",
                txt("""
                    - Service every 4,000 hours, oil change every 8,000 hours
                    - 60-month airend warranty with a NordCare agreement
                    - NordTech Connect: pressure, temperature and kWh per m³ online
                    """),
            ),
            Section(
                "Next steps",
                txt("""
                    1. Two-week air audit with data loggers — free for plants above 75 kW installed
                    2. Proposal with energy savings guaranteed in the contract
                    3. Delivery FCA St Petersburg in 8 weeks, commissioning by our partner
                    """),
            ),
        ],
        lang="en",
    )


# --- technical proposal template (English) ---------------------------------------------------------------------


def proposal(v: int) -> Document:
    del v
    return Document(
        "Technical proposal template: KX compressor station",
        "Template for export tenders and direct enquiries · fields in [brackets] are filled in by the sales engineer",
        [
            Section(
                "Cover letter",
                txt("""
                    Dear [customer contact], thank you for your enquiry [reference] of [date]. NordTech Industries
                    is pleased to submit this technical proposal for a compressed air station based on KX rotary
                    screw compressors. The proposal is valid for 60 days.
                    """),
            ),
            Section(
                "Scope of supply",
                txt("""
                    - 2 × KX-200 duty compressors, 22 kW, 8 bar, air-cooled
                    - 1 × KX-200 standby compressor with sequence controller
                    - 1 × DR-35 refrigerant dryer, pressure dew point +3 °C
                    - 1 × vertical air receiver 2,000 l, 11 bar, with safety valve
                    - Filter set F1 + F01, condensate drains, interconnecting hoses
                    """),
            ),
            Section(
                "Technical data",
                [
                    Table(
                        ["Parameter", "Value"],
                        [
                            ["Station capacity (2 duty units)", "6.8 m³/min at 8 bar"],
                            ["Installed power", "66 kW (3 × 22 kW)"],
                            ["Air quality to ISO 8573-1", "[1:4:2]"],
                            ["Noise level per unit", "69 dB(A) at 1 m"],
                            ["Power supply", "400 V, 3 ph, 50 Hz"],
                            ["Ambient temperature", "+2 … +40 °C (tropical kit: +50 °C)"],
                        ],
                        [50, 50],
                    ),
                ],
            ),
            Section(
                "Installation requirements",
                txt("""
                    The compressor room must provide cooling air of 6,500 m³/h per KX-200 and an exhaust duct for
                    hot air. Floor: level concrete, no foundation needed. Clearance of 800 mm on the service side.
                    The customer provides power cables to the main switch of each unit and a drain for condensate.
                    """),
            ),
            Section(
                "Commissioning and training",
                txt("""
                    Commissioning is performed by a NordTech engineer or an authorised partner within 10 working days
                    after notification of readiness. Training for up to 6 operators (1 day) is included; manuals
                    are supplied in English and Russian.
                    """),
            ),
            Section(
                "Warranty and service",
                txt("""
                    Warranty: 24 months from commissioning, but not more than 30 months from shipment. Airend
                    warranty is extended to 60 months with a NordCare service agreement. Spare parts availability
                    is guaranteed for 10 years after the end of production.
                    """),
            ),
            Section(
                "Commercial terms",
                txt("""
                    - Price: [amount] EUR, FCA St Petersburg (Incoterms 2020), excluding VAT and import duties
                    - Payment: 30 % advance, 70 % before shipment
                    - Delivery: 6–8 weeks after advance payment
                    """),
            ),
            Section(
                "Exclusions",
                txt("""
                    Civil works, compressed air piping beyond the receiver outlet, power cabling, lifting equipment
                    on site and local permits are excluded unless stated otherwise.
                    """),
            ),
        ],
        lang="en",
    )


# --- compliance matrix -------------------------------------------------------------------------------------------


def compliance(v: int) -> Document:
    del v
    rows = [
        ["Тип компрессора / Compressor type", "винтовой маслозаполненный", "KX-350M, винтовой", "Да / Yes"],
        ["Производительность при 7 бар / FAD at 7 bar", "не менее 5,5 м³/мин", "5,9 м³/мин", "Превышает"],
        ["Регулирование / Capacity control", "частотное", "встроенный ПЧ, 1,6–5,9 м³/мин", "Да / Yes"],
        ["Класс двигателя / Motor efficiency class", "не ниже IE4", "IE5 (PM)", "Превышает"],
        ["Уровень шума / Noise", "не более 72 дБ(A)", "68 дБ(A)", "Да / Yes"],
        ["Рекуперация тепла / Heat recovery", "опция", "комплект 553-3001", "Да / Yes"],
        ["Интерфейс / Interface", "Modbus TCP", "Modbus RTU; TCP через шлюз NordTech Connect", "Да, с опцией"],
        ["Гарантия / Warranty", "не менее 24 мес.", "24 мес., блок — 60 мес. с NordCare", "Да / Yes"],
        ["Страна происхождения / Origin", "Россия", "Россия, реестровая запись ГИСП", "Да / Yes"],
    ]
    return Document(
        "Таблица соответствия / Compliance matrix: KX-200, KX-350M",
        "Соответствие техническим требованиям заказчика · для тендеров по 223-ФЗ и прямых закупок · 30.10.2026",
        [
            Section(
                "Требования / Requirements",
                [
                    "Пример заполнен для KX-350M; для KX-200 замените значения по каталогу KX.",
                    Table(["Требование / Requirement", "Значение в ТЗ", "Предложение", "Соответствие"], rows),
                ],
                sheet="Requirements",
            ),
            Section(
                "Документы / Documents",
                [
                    Table(
                        ["Документ / Document", "Номер / Number", "Язык / Language"],
                        [
                            ["Декларация ЕАЭС ТР ТС 010/2011", "ЕАЭС N RU Д-RU.НТ01.В.05518/26", "ru"],
                            ["Протокол испытаний ISO 1217 Annex E", "PT-KX350-0142", "ru / en"],
                            ["Руководство по эксплуатации / Operating manual", "KX-M-2026-01", "ru / en"],
                            ["Выписка из реестра российской промышленной продукции", "[номер записи]", "ru"],
                        ],
                    )
                ],
                sheet="Documents",
            ),
            Section(
                "Отклонения / Deviations",
                [
                    Table(
                        ["Пункт ТЗ", "Отклонение / Deviation", "Обоснование / Justification"],
                        [
                            [
                                "Интерфейс Modbus TCP",
                                "штатно Modbus RTU",
                                "TCP обеспечивает шлюз NordTech Connect, включён в цену",
                            ],
                            ["Габариты ≤ 1 600 мм", "длина 1 650 мм", "согласовать: помещение позволяет (план 3.2)"],
                        ],
                    )
                ],
                sheet="Deviations",
            ),
        ],
        lang="mixed",
    )


# --- KX-350M datasheet -----------------------------------------------------------------------------------------


def datasheet(v: int) -> Document:
    del v
    return Document(
        "KX-350M: datasheet / технический лист",
        "Variable speed screw compressor 37 kW / винтовой компрессор с частотным регулированием · март 2026",
        [
            Section(
                "Overview / Обзор",
                txt("""
                    KX-350M is a 37 kW oil-injected screw compressor with an integrated frequency converter and an
                    IE5 permanent-magnet motor. It adjusts free air delivery between 1.6 and 5.9 m³/min to keep the
                    network pressure constant.

                    KX-350M — маслозаполненный винтовой компрессор 37 кВт со встроенным частотным
                    преобразователем и синхронным двигателем IE5. Производительность плавно меняется от 1,6 до
                    5,9 м³/мин, давление в сети держится постоянным.
                    """),
            ),
            Section(
                "Technical data / Технические данные",
                [
                    Table(
                        ["Parameter / Параметр", "Value / Значение"],
                        [
                            *_kx_spec(BY_CODE["KX-350M"]),
                            ["Speed range / Диапазон частоты вращения", "1 100–3 900 rpm"],
                            ["Oil volume / Объём масла", "22 l"],
                            ["Cooling air flow / Расход охлаждающего воздуха", "7 800 m³/h"],
                        ],
                        [60, 40],
                    )
                ],
            ),
            Section(
                "Performance at pressures / Производительность по давлениям",
                [
                    Table(
                        ["Pressure, bar", "FAD min, m³/min", "FAD max, m³/min", "Specific power, kW/(m³/min)"],
                        [
                            [5.5, 1.7, 6.3, 5.6],
                            [7, 1.6, 5.9, 6.0],
                            [8, 1.5, 5.6, 6.3],
                            [10, 1.3, 4.9, 7.1],
                            [13, 1.1, 4.0, 8.4],
                        ],
                    ),
                    "Measured to ISO 1217:2009 Annex E / Испытания по ISO 1217:2009, приложение E.",
                ],
            ),
            Section(
                "Installation / Установка",
                txt("""
                    - Ambient temperature +2 … +45 °C / температура в помещении от +2 до +45 °C
                    - Power supply 400 V ±10 %, 50 Hz; recommended fuse 80 A gG / рекомендуемый предохранитель 80 А
                    - No foundation required; keep 800 mm clearance on the service side
                    - Hot air duct: 7 800 m³/h, max. 30 Pa back pressure
                    """),
            ),
            Section(
                "Heat recovery and noise / Рекуперация тепла и шум",
                txt("""
                    With the heat recovery kit 553-3001 up to 28 kW of heat is available as hot water at +70 °C.
                    Sound pressure level 68 dB(A) at 1 m (ISO 2151) allows installation inside a workshop.

                    С комплектом рекуперации 553-3001 можно получать до 28 кВт тепла в виде горячей воды +70 °C.
                    """),
            ),
        ],
        lang="mixed",
    )


# --- case study: dairy plant (English Markdown) ------------------------------------------------------------------


def case_dairy(v: int) -> Document:
    del v
    return Document(
        "Case study: KX compressors and heat recovery at a dairy plant in Serbia",
        "Mlekara Dunav d.o.o., Novi Sad · two KX-200 units with heat recovery, commissioned in March 2025",
        [
            Section(
                "Customer",
                txt("""
                    Mlekara Dunav is a regional dairy producing 140 tonnes of milk products a day. Compressed air
                    drives the filling machines, CIP valves and packaging lines, 24 hours a day, six days a week.
                    """),
            ),
            Section(
                "Challenge",
                txt("""
                    - Two 30 kW piston compressors from 2003 with frequent valve failures
                    - Oil carry-over in the packaging area — a risk in food safety audits
                    - Hot water for CIP washing was heated by gas
                    """),
            ),
            Section(
                "Solution",
                txt("""
                    NordTech's Serbian partner installed two KX-200 compressors (22 kW each) with a sequence
                    controller, a DR-35 dryer and F1 + F01 filters to reach ISO 8573-1 class [1:4:2]. The heat
                    recovery kit 553-3001 preheats CIP water to +65 °C before the gas boiler.
                    """),
            ),
            Section(
                "Results after 12 months",
                [
                    Table(
                        ["Indicator", "Before", "After"],
                        [
                            ["Electricity for compressed air, MWh/year", 312, 228],
                            ["Gas for CIP water heating, thousand m³/year", 61, 38],
                            ["Unplanned stops of filling lines", 9, 0],
                            ["Energy cost, EUR/year", 58_400, 39_900],
                        ],
                    ),
                    "Payback of the project: 2.3 years, including installation by the local partner.",
                ],
            ),
            Section(
                "How to use this case",
                txt("""
                    Use it with food and beverage plants in EMEA and CIS. Key message: compressor heat is free
                    energy — the gas saving alone paid for the heat recovery kit in five months.

                    - KX price list for EMEA: see the price list *Price list KX screw compressors, EMEA 2026*
                    - Energy savings pitch deck: *KX screw compressors: energy savings pitch*
                    - Air quality classes explained: [ISO 8573-1 on iso.org](https://www.iso.org/search.html?q=8573-1)
                    """),
            ),
        ],
        lang="en",
    )


# --- distributor FAQ (English Markdown) --------------------------------------------------------------------------


def faq(v: int) -> Document:
    del v
    return Document(
        "KX compressors FAQ for distributors",
        "Answers to the questions distributors ask most often · November 2026",
        [
            Section(
                "Which pressure version should I order?",
                txt("""
                    Order the lowest pressure that satisfies the highest consumer plus 1 bar for the dryer and
                    filters. Every extra bar costs about 7 % more energy. Most workshops need 8 bar; 10 and 13 bar
                    versions are for blow moulding, sandblasting and long networks.
                    """),
            ),
            Section(
                "Fixed speed or KX-350M?",
                [
                    *txt("""
                        If the demand varies by more than 30 % during a shift, offer KX-350M. If a compressor runs
                        fully loaded around the clock, a fixed-speed KX-200 or KX-500 is cheaper to buy and just as
                        efficient.
                        """),
                    Table(
                        ["Load profile", "Recommendation"],
                        [
                            ["Constant, > 85 % load", "KX-200 / KX-500 fixed speed"],
                            ["Variable, 30–85 % load", "KX-350M"],
                            ["Two shifts + weekend base load", "KX-350M + fixed-speed unit in sequence"],
                        ],
                    ),
                ],
            ),
            Section(
                "What are the service intervals?",
                txt("""
                    - Air and oil filters, separator check: every 4,000 hours
                    - Oil change: every 8,000 hours or 2 years
                    - Airend inspection: 40,000 hours
                    """),
            ),
            Section(
                "Do KX compressors have CE marking?",
                txt("""
                    KX compressors carry EAC marking (TR CU 010/2011, 004/2011, 020/2011). CE marking is not
                    available. For customers outside the EAEU we supply test reports to ISO 1217, the manufacturer's
                    declaration and, on request, an inspection certificate by an independent body.
                    """),
            ),
            Section(
                "How fast are spare parts delivered?",
                txt("""
                    Service kits are shipped within 24 hours from Kolpino. For distributors with more than 20
                    installed units we recommend a consignment stock of 8,000-hour kits — ask your account manager
                    Elena Orlova.
                    """),
            ),
            Section(
                "Where do I find prices and documents?",
                txt("""
                    - EMEA price list in EUR and the commercial terms — in the knowledge base, catalogue section
                    - Datasheet KX-350M (bilingual)
                    - Incoterms explained: [ICC Incoterms 2020](https://iccwbo.org/business-solutions/incoterms-rules/)
                    """),
            ),
        ],
        lang="en",
    )


# --- case study: steel plant (DOCX) --------------------------------------------------------------------------------


def case_steel(v: int) -> Document:
    del v
    return Document(
        "Кейс: компрессорная станция KX-500 на металлургическом заводе",
        "Замена поршневых компрессоров на винтовые KX-500 · Урал, 2024",
        [
            Section(
                "Заказчик",
                txt("""
                    Металлургический завод полного цикла в Челябинской области. Сжатый воздух нужен прокатному
                    стану, пневмоприводам задвижек и продувке форм; потребление — от 14 до 26 м³/мин в зависимости
                    от смены.
                    """),
            ),
            Section(
                "Исходная ситуация",
                txt("""
                    - два поршневых компрессора 1990 года по 160 кВт, один в постоянном ремонте;
                    - давление в сети «гуляло» от 5,2 до 7,4 бар, прокатный стан останавливался по низкому давлению;
                    - водяное охлаждение требовало градирни и химводоподготовки.
                    """),
            ),
            Section(
                "Решение",
                txt("""
                    Установлены три компрессора KX-500 (55 кВт, 8,4 м³/мин) с общим контроллером очерёдности,
                    адсорбционный осушитель на линию КИП и ресивер 5 м³. Воздушное охлаждение позволило вывести
                    из работы градирню. Монтаж занял 18 дней и прошёл без остановки стана: старые компрессоры
                    работали до переключения последнего участка сети.
                    """),
            ),
            Section(
                "Результаты за первый год",
                [
                    Table(
                        ["Показатель", "До", "После"],
                        [
                            ["Потребление электроэнергии, тыс. кВт·ч/год", 2_380, 1_460],
                            ["Остановы стана по давлению воздуха", 14, 0],
                            ["Затраты на ремонт, млн ₽/год", 3.1, 0.4],
                            ["Давление в сети, бар", "5,2–7,4", "6,8–7,0"],
                        ],
                        [50, 25, 25],
                    ),
                    "Срок окупаемости проекта — 2 года 4 месяца.",
                ],
            ),
            Section(
                "Как использовать кейс",
                txt("""
                    Показывайте кейс металлургам, горнякам и машиностроителям, у которых стоят поршневые станции.
                    Сильный аргумент — отказ от градирни: заказчики часто не считают её затраты в стоимости воздуха.
                    """),
            ),
        ],
    )


# --- assets ------------------------------------------------------------------------------------------------------

ASSETS = [
    Asset(
        slug="catalog-kx-compressors",
        title="Каталог винтовых компрессоров KX",
        description="Каталог компрессоров KX с англоязычной таблицей модельного ряда, подготовкой воздуха и ценами.",
        kind="catalog",
        product=PRODUCT,
        segments=["B2B"],
        region="Россия",
        language="mixed",
        owner=ORLOVA,
        review_interval_days=90,
        tags=["компрессоры", "каталог", "KX-200", "KX-350M", "ISO 1217", "ISO 8573-1"],
        fmt="pdf",
        versions=[
            version("Каталог KX 2025.pdf", "Первая публикация", CATALOG_DATES[0], ORLOVA),
            version(
                "Каталог KX 2026.pdf",
                "Добавлен KX-350M с частотным приводом; KX-75 снят с производства; цены +4% и НДС 22%",
                CATALOG_DATES[1],
                ORLOVA,
            ),
        ],
        build=catalog,
    ),
    Asset(
        slug="pricelist-kx-emea",
        title="Price list KX screw compressors, EMEA 2026",
        description="Export price list in EUR (FCA St Petersburg): KX compressors, options and commercial terms.",
        kind="catalog",
        product=PRODUCT,
        segments=["B2B"],
        region="Export / EMEA",
        language="en",
        owner=ORLOVA,
        review_interval_days=90,
        tags=["price list", "export", "EUR", "Incoterms", "KX-350M"],
        fmt="xlsx",
        versions=[
            version("KX price list EMEA 2025-10.xlsx", "First release", EMEA_DATES[0], ORLOVA),
            version(
                "KX price list EMEA 2026-07.xlsx",
                "Prices +4%; KX-350M added, KX-75 discontinued; NordTech Connect gateway option; shorter lead time",
                EMEA_DATES[1],
                ORLOVA,
            ),
        ],
        build=price_list,
    ),
    Asset(
        slug="deck-kx-energy-pitch",
        title="KX screw compressors: energy savings pitch",
        description="English sales deck on compressed-air energy costs, KX-350M variable speed and heat recovery.",
        kind="presentation",
        product=PRODUCT,
        segments=["B2B"],
        region="Export / EMEA",
        language="en",
        owner=ORLOVA,
        review_interval_days=180,
        tags=["energy savings", "KX-350M", "heat recovery", "VSD", "pitch"],
        fmt="pptx",
        versions=[version("KX energy pitch.pptx", "First release", "2026-02-10", ORLOVA)],
        build=pitch,
    ),
    Asset(
        slug="tender-technical-proposal-kx",
        title="Technical proposal template: KX compressor station",
        description="English technical proposal template for a KX-200 compressor station: scope, data, terms.",
        kind="tender_template",
        product=PRODUCT,
        segments=["B2B"],
        region="Export / EMEA",
        language="en",
        owner=ORLOVA,
        review_interval_days=365,
        tags=["technical proposal", "tender", "KX-200", "scope of supply"],
        fmt="docx",
        versions=[version("Technical proposal KX station.docx", "First release", "2025-06-16", ORLOVA)],
        build=proposal,
    ),
    Asset(
        slug="tender-compliance-kx",
        title="Таблица соответствия / Compliance matrix: KX-200, KX-350M",
        description="Двуязычная таблица соответствия техническим требованиям для компрессоров KX с отклонениями.",
        kind="tender_template",
        product=PRODUCT,
        segments=["B2B", "B2G"],
        region="Россия",
        language="mixed",
        owner=KIM,
        review_interval_days=365,
        tags=["таблица соответствия", "compliance matrix", "KX-350M", "223-ФЗ"],
        fmt="xlsx",
        versions=[version("Compliance matrix KX.xlsx", "Первая публикация", "2026-10-30", KIM)],
        build=compliance,
    ),
    Asset(
        slug="datasheet-kx-350m",
        title="KX-350M: datasheet / технический лист",
        description="Двуязычный технический лист KX-350M: данные, производительность по давлениям, установка.",
        kind="datasheet",
        product=PRODUCT,
        segments=["B2B"],
        region="Export / EMEA",
        language="mixed",
        owner=ORLOVA,
        review_interval_days=180,
        tags=["KX-350M", "datasheet", "VSD", "ISO 1217"],
        fmt="pdf",
        versions=[version("KX-350M datasheet.pdf", "Первая публикация", "2026-03-18", ORLOVA)],
        build=datasheet,
    ),
    Asset(
        slug="case-dairy-serbia",
        title="Case study: KX compressors and heat recovery at a dairy plant in Serbia",
        description="Two KX-200 units with heat recovery at a Serbian dairy: 27% less electricity, gas savings.",
        kind="case_study",
        product=PRODUCT,
        segments=["B2B"],
        region="Export / EMEA",
        language="en",
        owner=ORLOVA,
        review_interval_days=365,
        tags=["case study", "dairy", "food", "heat recovery", "KX-200"],
        fmt="md",
        versions=[version("case-dairy-serbia.md", "First release", "2026-04-08", MARIA)],
        build=case_dairy,
    ),
    Asset(
        slug="faq-kx-distributors",
        title="KX compressors FAQ for distributors",
        description="Distributor FAQ: pressure versions, fixed speed vs KX-350M, service intervals, CE/EAC, spares.",
        kind="datasheet",
        product=PRODUCT,
        segments=["B2B"],
        region="Export / EMEA",
        language="en",
        owner=ORLOVA,
        review_interval_days=180,
        tags=["FAQ", "distributors", "service intervals", "EAC"],
        fmt="md",
        versions=[version("faq-kx.md", "First release", "2026-11-20", ORLOVA)],
        build=faq,
    ),
    Asset(
        slug="case-steel-plant-kx500",
        title="Кейс: компрессорная станция KX-500 на металлургическом заводе",
        description="Замена поршневых компрессоров на три KX-500 на Урале: −39% электроэнергии, ноль остановов стана.",
        kind="case_study",
        product=PRODUCT,
        segments=["B2B"],
        region="Урал",
        language="ru",
        owner=ORLOVA,
        review_interval_days=365,
        tags=["кейс", "металлургия", "KX-500", "поршневой компрессор"],
        fmt="docx",
        versions=[version("Кейс металлургия KX-500.docx", "Первая публикация", "2024-12-12", ORLOVA)],
        build=case_steel,
    ),
]
