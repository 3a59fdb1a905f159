"""Preview and OCR benchmark: time per page per format, a 50-slide deck's thumbnails, OCR accuracy on scans.

Run: ``PYTHONPATH=. python benchmarks/preview_speed.py`` (needs LibreOffice, Tesseract with rus+eng, the DejaVu
font and the test extras). Every file is made here by the test fixture builders; nothing is downloaded. Prints,
per format, the seconds to convert (LibreOffice, office and text files) and to draw each page; then the time to
make all thumbnails of a 50-slide PPTX (target: under 60 s on 2 cores); then, for generated scans of a Russian
certificate (noise, rotation, a stamp), Tesseract's character error rate and the share of words found (target:
at least 95 %), counting a word found when search would find it: Latin and Cyrillic look-alikes in codes match.
"""

from __future__ import annotations

import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import fixtures_files as F  # noqa: E402
from kb.blobs import BlobStore  # noqa: E402
from kb.extraction import detect  # noqa: E402
from kb.previews import build  # noqa: E402
from kb.previews.run import run_sandbox  # noqa: E402
from kb.previews.store import PreviewStore  # noqa: E402
from kb.search.codes import _LOOKALIKES  # noqa: E402

SLIDES = 50


def _formats(d: Path) -> dict[str, Path]:
    scan = F.make_scan(None)
    scan.save(d / "scan.png")
    scan.save(d / "scan.jpg")
    scan.save(d / "scan.tif")
    return {
        "pdf (10 pages)": F.make_pdf(d / "a.pdf", [F.RU_OFFER, F.RU_TERMS] * 5),
        "docx": F.make_docx(d / "a.docx", [F.RU_OFFER] * 40),
        "pptx (5 slides)": F.make_pptx(d / "a.pptx", [(f"Слайд {i}", F.RU_OFFER, "") for i in range(5)]),
        "xlsx": F.make_xlsx(d / "a.xlsx", {"Лист": [["Товар", i] for i in range(200)]}),
        "odt": F.make_odt(d / "a.odt", [F.RU_OFFER] * 40),
        "odp": F.make_odp(d / "a.odp", [(f"Слайд {i}", F.RU_OFFER, "") for i in range(5)]),
        "ods": F.make_ods(d / "a.ods", {"Лист": [["Товар"]] * 200}),
        "markdown": F.write_text(d / "a.md", "# Заголовок\n\n" + (F.RU_LETTER + "\n\n") * 20, "utf-8"),
        "html": F.write_text(d / "a.html", "<h1>Заголовок</h1>" + f"<p>{F.RU_LETTER}</p>" * 20, "utf-8"),
        "txt": F.write_text(d / "a.txt", (F.RU_LETTER + "\n") * 20, "utf-8"),
        "csv": F.write_text(d / "a.csv", "Товар;Цена\n" + "Насос;100\n" * 200, "utf-8"),
        "png": d / "scan.png",
        "jpeg": d / "scan.jpg",
        "tiff": d / "scan.tif",
    }


def _preview(blobs: BlobStore, store: PreviewStore, path: Path) -> tuple[float, float, int]:
    sha = blobs.put_bytes(path.read_bytes())
    file_type = detect(path.read_bytes()[:65536], blobs.path_for(sha), path.name)
    started = time.monotonic()
    source = build.source_for(blobs, store, sha, file_type, convert=True)
    converted = time.monotonic()
    pages = build.render_pages(source, store, sha, list(range(1, build.FIRST_PAGES + 1)), timeout_s=300)
    return converted - started, time.monotonic() - converted, min(pages, build.FIRST_PAGES)


def _words(text: str) -> list[str]:
    return [w.translate(_LOOKALIKES) for w in re.findall(r"\w+", text.lower().replace("ё", "е"))]


def _cer(expected: str, got: str) -> float:
    a, b = " ".join(expected.split()), " ".join(got.split())
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1] / max(1, len(a))


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        d = Path(work)
        blobs, store = BlobStore(d / "blobs"), PreviewStore(d / "previews")
        print(f"{'format':<18}{'convert s':>10}{'pages':>7}{'draw s/page':>13}")
        for name, path in _formats(d).items():
            convert, draw, pages = _preview(blobs, store, path)
            print(f"{name:<18}{convert:>10.2f}{pages:>7}{draw / max(1, pages):>13.3f}")

        deck = F.make_pptx(d / "deck.pptx", [(f"Слайд {i}", f"{F.RU_OFFER} НВ-{400 + i}", "") for i in range(SLIDES)])
        sha = blobs.put_bytes(deck.read_bytes())
        file_type = detect(deck.read_bytes()[:65536], blobs.path_for(sha), deck.name)
        started = time.monotonic()
        source = build.source_for(blobs, store, sha, file_type, convert=True)
        count = build.render_pages(source, store, sha, list(range(1, SLIDES + 1)), timeout_s=300)
        print(
            f"\n{SLIDES}-slide PPTX: {count} slides, all thumbnails in {time.monotonic() - started:.1f} s"
            " (target < 60 s)"
        )

        print("\nOCR (Tesseract rus+eng) on generated scans of a certificate:")
        expected = "\n".join(F.CERTIFICATE_LINES)
        wanted = _words(expected)
        total_found = total_words = 0
        for seed, rotation in ((7, 1.2), (3, -2.0), (11, 0.5), (5, -1.0)):
            scan = F.make_scan(None, rotation=rotation, seed=seed)
            for kind, path in (("image", d / f"s{seed}.png"), ("pdf", d / f"s{seed}.pdf")):
                scan.save(d / f"s{seed}.png")
                if kind == "pdf":
                    F.make_image_pdf(path, [scan])
                started = time.monotonic()
                outcome = run_sandbox(
                    {
                        "op": "ocr",
                        "source": str(path),
                        "kind": kind,
                        "pages": [1],
                        "languages": "rus+eng",
                        "budget_s": 120,
                    },
                    timeout_s=180,
                    memory_mb=build.MEMORY_MB,
                )
                text = outcome.data.get("texts", {}).get("1", "") if outcome.error is None else ""
                found = set(_words(text))
                hits = sum(w in found for w in wanted)
                total_found, total_words = total_found + hits, total_words + len(wanted)
                print(
                    f"  scan seed {seed:>2} rotation {rotation:+.1f}° as {kind:<5}:"
                    f" {time.monotonic() - started:5.1f} s,"
                    f" CER {_cer(expected, text):6.1%}, words found {hits}/{len(wanted)}"
                )
        print(f"  words found overall: {total_found / total_words:.1%} (target ≥ 95 %)")


if __name__ == "__main__":
    main()
