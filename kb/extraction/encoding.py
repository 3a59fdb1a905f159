"""Finds the character encoding of a text file: BOMs, UTF-8, then Russian single-byte codepages, then a guess."""

from __future__ import annotations

import codecs
import math
import re

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
    if _is_utf8(sample, complete=complete) or _mostly_utf8(sample):
        return "utf-8"
    cyrillic = _best_cyrillic(sample)
    if cyrillic is not None:
        return cyrillic
    guess = charset_normalizer.from_bytes(sample).best()
    return guess.encoding if guess is not None else "cp1252"


def decode(data: bytes, *, complete: bool = True) -> str:
    """``data`` as text, in the encoding found from its start; undecodable bytes become U+FFFD."""
    codec = detect_encoding(data[:SAMPLE_BYTES], complete=complete and len(data) <= SAMPLE_BYTES)
    return data.decode(codec, errors="replace")


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
