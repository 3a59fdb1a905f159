"""Finds the character encoding of a text file: BOMs, UTF-16 by its NULs, UTF-8, the Russian single-byte codepages,
Western windows-1252, then a guess.

NUL bytes are not text: outside UTF-16 and UTF-32 they are dropped before the encoding is judged and the text
decoded (a file written by a program that ends strings with NUL, or padded with them).
"""

from __future__ import annotations

import codecs
import math
import re
import unicodedata
from collections import Counter

import charset_normalizer

#: How much of a file the guess looks at; decoding then applies to the whole file.
SAMPLE_BYTES = 64 * 1024

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose BOM is its prefix
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

#: Control, unassigned, private-use and surrogate code points: what UTF-16 text does not hold, and what random
#: bytes read as UTF-16 soon give.
_NOT_TEXT_CATEGORIES = frozenset({"Cc", "Cn", "Co", "Cs"})
#: The codepage of Western European text on Windows, the one a short non-Russian, non-UTF-8 text is tried in.
WESTERN_CODEPAGE = "cp1252"

#: The two single-byte codepages Russian text comes in. charset-normalizer often takes one for the other on
#: short texts, because both map the high half of the byte range to Cyrillic letters in a different order.
CYRILLIC_CODEPAGES = ("cp1251", "koi8_r")

# Letter frequencies of Russian prose, per cent (О is the commonest letter, Ъ and Ё the rarest).
_RUSSIAN_FREQUENCY = dict(
    zip(
        "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё",
        (10.97, 8.45, 8.01, 7.35, 6.70, 6.26, 5.47, 4.73, 4.54, 4.40, 4.49, 3.21, 2.98, 2.81, 2.62, 2.01, 1.90,
         1.74, 1.70, 1.65, 1.59, 1.44, 1.21, 0.97, 0.94, 0.73, 0.64, 0.48, 0.36, 0.32, 0.26, 0.04, 0.04),
        strict=True,
    )
)  # fmt: skip
_LOG_FREQUENCY = {letter: math.log(share) for letter, share in _RUSSIAN_FREQUENCY.items()}
_RARE_LOG_FREQUENCY = math.log(0.01)
_CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+")
_LOWER_THEN_UPPER = re.compile("[а-яё][А-ЯЁ]")
# Non-ASCII characters that are neither Russian letters nor punctuation Russian text uses: box drawing and maths
# signs (KOI8-R's upper half read wrongly) or Serbian and Ukrainian letters (cp1251's, read wrongly).
_ODD = re.compile("[^\x00-\x7fа-яёА-ЯЁ«»„“”‘’‚–—…№§°±•·\u00a0\u202f]")


def detect_encoding(sample: bytes, *, complete: bool) -> str:
    """The Python codec name for text whose first bytes are ``sample``.

    ``complete`` says the sample is the whole file; otherwise a multi-byte character cut at its end is fine.
    """
    for bom, codec in _BOMS:
        if sample.startswith(bom):
            return codec
    utf16 = utf16_without_bom(sample, complete=complete)
    if utf16 is not None:
        return utf16
    sample = sample.replace(b"\x00", b"")
    if _is_utf8(sample, complete=complete) or _mostly_utf8(sample):
        return "utf-8"
    cyrillic = _best_cyrillic(sample)
    if cyrillic is not None:
        return cyrillic
    if _looks_western(sample):
        return WESTERN_CODEPAGE
    # UTF-16 and UTF-32 were ruled out above; charset-normalizer proposes them for short texts without NULs.
    guesses = (m.encoding for m in charset_normalizer.from_bytes(sample) if not m.encoding.startswith("utf_"))
    return next(guesses, WESTERN_CODEPAGE)


def decode(data: bytes, *, complete: bool = True) -> str:
    """``data`` as text, in the encoding found from its start; undecodable bytes become U+FFFD, NULs are dropped."""
    codec = detect_encoding(data[:SAMPLE_BYTES], complete=complete and len(data) <= SAMPLE_BYTES)
    if not codecs.lookup(codec).name.startswith(("utf-16", "utf-32")):
        data = data.replace(b"\x00", b"")
    return data.decode(codec, errors="replace").replace("\x00", "")


def utf16_without_bom(sample: bytes, *, complete: bool = True) -> str | None:
    """``utf-16-le`` or ``utf-16-be`` for UTF-16 text saved without a byte-order mark, else ``None``.

    Told by its NUL bytes: spaces, digits, punctuation and Latin letters have a zero high byte, so in UTF-16 text
    one byte in two (the high one) is often NUL and the other almost never is. The high bytes of text in one
    or two scripts take few values besides (0x04 for Cyrillic, 0x20 for dashes and quotes), and the text must
    decode into characters text uses. Binary data and text padded with NULs have NULs in both places.
    """
    units = len(sample) // 2
    if units < 2:
        return None
    even, odd = sample[0 : units * 2 : 2], sample[1 : units * 2 : 2]
    for codec, high, low in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if high.count(0) * 10 < units or low.count(0) * 50 > units:
            continue
        common = sum(count for _, count in Counter(high).most_common(3))
        if common * 10 >= units * 9 and _reads_as_text(sample, codec, complete):
            return codec
    return None


def _reads_as_text(sample: bytes, codec: str, complete: bool) -> bool:
    try:
        text = codecs.getincrementaldecoder(codec)().decode(sample, final=complete)
    except UnicodeDecodeError:
        return False
    odd = sum(1 for c in text if unicodedata.category(c) in _NOT_TEXT_CATEGORIES and c not in "\t\n\r\f")
    return bool(text) and odd * 100 <= len(text)


def charset_label(codec: str) -> str:
    """The name to put in a ``charset=`` parameter for a Python codec name (``cp1251`` → ``windows-1251``)."""
    name = codecs.lookup(codec).name
    if name == "utf-8-sig":
        return "utf-8"
    if re.fullmatch(r"cp125\d", name):
        return "windows-" + name[2:]
    if name.startswith("iso8859-"):
        return "iso-8859-" + name[len("iso8859-") :]
    return name.replace("_", "-")


def _is_utf8(sample: bytes, *, complete: bool) -> bool:
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=complete)
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(sample: bytes) -> bool:
    """UTF-8 with a few damaged sequences (a file cut or glued together): far more valid multi-byte characters
    than errors. Read through a single-byte codepage it would be mojibake from start to end."""
    decoded = sample.decode("utf-8", errors="replace")
    errors = decoded.count("\ufffd")
    valid = sum(1 for c in decoded if c > "\x7f") - errors
    return valid >= 20 * errors > 0


def _best_cyrillic(sample: bytes) -> str | None:
    """The Russian codepage that reads ``sample`` as plausible Russian, or ``None`` when neither does."""
    scored = []
    for codec in CYRILLIC_CODEPAGES:
        text = sample.decode(codec, errors="replace")
        if _looks_russian(text):
            scored.append((russian_score(text), codec))
    return max(scored)[1] if scored else None


def _looks_russian(text: str) -> bool:
    """Most non-ASCII characters are Cyrillic letters, in words that do not mix Cyrillic and Latin letters.

    Western text read through a Russian codepage fails the second test: "Größe" becomes "GrцЯe".
    """
    non_ascii = [c for c in text if ord(c) > 0x7F]
    if not non_ascii:
        return False
    cyrillic_letters = sum(1 for c in non_ascii if _CYRILLIC.match(c))
    if cyrillic_letters * 10 < len(non_ascii) * 8:
        return False
    words = [w for w in _WORD.findall(text) if _CYRILLIC.search(w)]
    mixed = sum(1 for w in words if re.search("[a-zA-Z]", w))
    return mixed * 10 <= len(words)


def russian_score(text: str) -> float:
    """How much ``text`` reads like Russian: the mean log-frequency of its letters, less penalties.

    Text in one Russian codepage read through the other swaps upper and lower case ("Привет" becomes
    "пРИВЕТ"), turns common letters into rare ones (which still tells them apart in ALL CAPS) and brings in
    characters Russian text does not use; each of these lowers the score.
    """
    letters = _CYRILLIC.findall(text)
    if not letters:
        return -math.inf
    frequency = sum(_LOG_FREQUENCY.get(c.lower(), _RARE_LOG_FREQUENCY) for c in letters) / len(letters)
    case_breaks = len(_LOWER_THEN_UPPER.findall(text)) / len(letters)
    odd = len(_ODD.findall(text)) / len(letters)
    return frequency - 20 * (case_breaks + odd)


# Characters windows-1252 gives that Western text uses besides ASCII: Latin letters (Latin-1 and the few of
# windows-1252's 0x80-0x9F row), typographic punctuation, currency, NBSP and a few signs.
_WESTERN = re.compile(
    "[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ffŒœŠšŽžŸƒ\u00a0«»‹›‘’‚“”„–—…•·€£¥¢§°±©®™¡¿ªº²³¹µ×÷†‡‰¶¼½¾]"
)
_LATIN_LETTER = re.compile("[a-zA-Z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ffŒœŠšŽžŸƒ]")
_ACCENTED = re.compile("[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ffŒœŠšŽžŸƒ]")


def _looks_western(sample: bytes) -> bool:
    """``sample`` reads as Western European text in windows-1252: "Café résumé", "Größe", "Año nuevo".

    Every byte must be defined in windows-1252 and every non-ASCII character one Western text uses, and the
    accented letters must sit in words of mostly plain Latin letters. Russian text in either codepage read
    through windows-1252 fails the last test: "Привет" becomes "Ïðèâåò", a word of accented letters only.
    """
    try:
        text = sample.decode(WESTERN_CODEPAGE)
    except UnicodeDecodeError:
        return False
    non_ascii = [c for c in text if ord(c) > 0x7F]
    if not non_ascii or any(not _WESTERN.match(c) for c in non_ascii):
        return False
    words = [w for w in _WORD.findall(text) if _ACCENTED.search(w)]
    letters = sum(len(_LATIN_LETTER.findall(w)) for w in words)
    accented = sum(len(_ACCENTED.findall(w)) for w in words)
    return accented * 2 <= letters
