"""The preview sandbox: a process that limits its own resources, then converts, renders and reads one file.

Usage: ``python -m kb.previews.sandbox`` with a JSON request on standard input; the JSON result is the only thing
written to standard output. The worker starts it in a session of its own (``kb.previews.run``), so a timeout
kills it together with LibreOffice and Tesseract, which inherit its limits (address space, CPU time).

A request says what to do with the file at ``source``:

- ``convert``: an office, ODF or text file becomes ``pdf_out`` with LibreOffice in headless mode, in a profile
  of its own made for this conversion (macros off, no links updated), without network where ``unshare`` can
  take it away;
- ``render``: pages ``pages`` of a PDF (or the frames of an image) become a page image and a thumbnail (WebP)
  in ``out_dir``; ``page_count`` comes back;
- ``ocr``: pages ``ocr_pages`` are rendered at 300 dpi and read by Tesseract (``languages``); their text comes
  back, page by page, until ``ocr_budget_s`` is spent.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from kb.previews import messages

_MEBIBYTE = 1024 * 1024
#: The page image's longest side, the thumbnail's width, in pixels.
PAGE_WIDTH, PAGE_HEIGHT, THUMB_WIDTH = 1200, 1600, 240
#: Scans are read at 300 dpi, but no side larger than this (a poster-sized page would need gigabytes).
OCR_DPI, OCR_MAX_SIDE = 300, 5000
#: Images larger than this many pixels are refused (decompression bombs): a 600 dpi A3 scan is about 70 million.
MAX_IMAGE_PIXELS = 80_000_000
EXIT_OUT_OF_MEMORY = 3

#: LibreOffice settings of each conversion's profile: macros never run, nothing is fetched or updated.
_REGISTRY = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" oor:op="fuse">
<value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution"
 oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks"
 oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>1</value>
</prop></item>
<item oor:path="/org.openoffice.Office.Writer/Content/Update"><prop oor:name="Link" oor:op="fuse"><value>1</value>
</prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="UseLocking" oor:op="fuse"><value>false</value>
</prop></item>
<item oor:path="/org.openoffice.Setup/Office"><prop oor:name="ooSetupInstCompleted" oor:op="fuse">
<value>true</value></prop></item>
</oor:items>
"""

#: LibreOffice's import filter for each text format, so a Markdown or CSV file is read as what it is.
_TEXT_FILTERS = {
    "markdown": ("txt", "Text (encoded):UTF8,LF,,"),
    "txt": ("txt", "Text (encoded):UTF8,LF,,"),
    "csv": ("csv", None),
    "html": ("html", None),
}


class Failed(Exception):
    """The file cannot be previewed; ``str()`` says why (a template of ``kb.previews.messages``, filled in)."""

    def __init__(self, template: str, **params: Any) -> None:
        super().__init__(template % params if params else template)


def limit_resources(memory_mb: int, cpu_seconds: int) -> None:
    memory = memory_mb * _MEBIBYTE
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


# --- convert -------------------------------------------------------------------------------------------------


def without_network() -> list[str]:
    """The command prefix that runs a program without network: a new network namespace with only a loopback
    that is down. Empty where this process may not make one (then only the proxy-free environment stands)."""
    for prefix in (["unshare", "--net"], ["unshare", "--map-root-user", "--net"]):
        if shutil.which(prefix[0]) is None:
            return []
        try:
            if subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0:
                return prefix
        except (OSError, subprocess.SubprocessError):
            continue
    return []


def convert(source: Path, type_name: str, pdf_out: Path, timeout_s: float) -> None:
    """``source`` as a PDF at ``pdf_out``, converted by LibreOffice; raises ``Failed`` with the reason."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise Failed(messages.NO_LIBREOFFICE)
    with tempfile.TemporaryDirectory(prefix="kb-soffice-") as work:
        workdir = Path(work)
        profile = workdir / "profile"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(_REGISTRY, encoding="utf-8")
        extension, import_filter = _TEXT_FILTERS.get(type_name, (type_name, None))
        document = workdir / f"document.{extension}"
        os.symlink(source, document)
        command = [
            *without_network(),
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--invisible",
            "--nodefault",
            "--nolockcheck",
            "--nologo",
            "--norestore",
        ]
        if import_filter:
            command.append(f"--infilter={import_filter}")
        command += ["--convert-to", "pdf", "--outdir", str(workdir), str(document)]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir),
            "TMPDIR": str(workdir),
            "LANG": "C.UTF-8",
            "SAL_USE_VCLPLUGIN": "svp",
        }
        try:
            finished = subprocess.run(
                command, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s, env=env, cwd=workdir
            )
        except subprocess.TimeoutExpired:
            raise Failed(messages.TIMED_OUT, seconds=f"{timeout_s:g}") from None
        produced = workdir / "document.pdf"
        if finished.returncode != 0 or not produced.is_file() or produced.stat().st_size == 0:
            raise Failed(messages.CONVERT_FAILED, detail=_status(finished.returncode))
        shutil.move(str(produced), pdf_out)


def _status(returncode: int) -> str:
    if returncode < 0:
        return f"signal {-returncode}"
    return f"exit status {returncode}" if returncode else "no PDF written"


# --- render --------------------------------------------------------------------------------------------------


def _open_pdf(path: Path) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise Failed(messages.UNREADABLE, detail=str(exc)[:200] or "PDF") from None


def _image_frames(path: Path) -> tuple[Any, int]:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    try:
        image = Image.open(path)
        image.size  # noqa: B018  (reads the header: a bomb or a broken file fails here)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Failed(messages.IMAGE_TOO_LARGE, pixels=f"{MAX_IMAGE_PIXELS:,}") from None
    except Exception as exc:  # Pillow raises many types on damaged files
        raise Failed(messages.UNREADABLE, detail=type(exc).__name__) from None
    return image, getattr(image, "n_frames", 1)


def _page_bitmap(document: Any, number: int, *, width: int, height: int, max_scale: float) -> Any:
    """Page ``number`` (from 1) of a pypdfium2 document as a PIL image fitting ``width`` x ``height``."""
    page = document[number - 1]
    page_width, page_height = page.get_size()
    if page_width <= 0 or page_height <= 0:
        raise Failed(messages.UNREADABLE, detail=f"page {number} has no size")
    scale = min(width / page_width, height / page_height, max_scale)
    return page.render(scale=scale, may_draw_forms=True).to_pil().convert("RGB")


def _frame(image: Any, number: int) -> Any:
    from PIL import ImageOps

    image.seek(number - 1)
    frame = ImageOps.exif_transpose(image.copy())
    return frame.convert("RGB") if frame.mode != "RGB" else frame


def _save_webp(picture: Any, target: Path, quality: int) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    picture.save(tmp, "WEBP", quality=quality, method=4)
    os.replace(tmp, target)


def render(source: Path, kind: str, pages: list[int], out_dir: Path) -> dict[str, Any]:
    """Writes ``p<n>.webp`` (page) and ``t<n>.webp`` (thumbnail) for each page in ``pages`` that exists."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if kind == "image":
        image, page_count = _image_frames(source)
    else:
        document = _open_pdf(source)
        page_count = len(document)
    rendered = []
    for number in pages:
        if not 1 <= number <= page_count:
            continue
        if kind == "image":
            picture = _frame(image, number)
            picture.thumbnail((PAGE_WIDTH, PAGE_HEIGHT))
        else:
            picture = _page_bitmap(document, number, width=PAGE_WIDTH, height=PAGE_HEIGHT, max_scale=4)
        _save_webp(picture, out_dir / f"p{number}.webp", 80)
        thumb = picture.copy()
        thumb.thumbnail((THUMB_WIDTH, THUMB_WIDTH * 2))
        _save_webp(thumb, out_dir / f"t{number}.webp", 70)
        rendered.append(number)
    return {"page_count": page_count, "rendered": rendered}


# --- OCR -----------------------------------------------------------------------------------------------------


def for_ocr(picture: Any) -> Any:
    """The page in grey, with coloured ink that is not dark (a blue stamp, a signature over the text) made paper:
    Tesseract reads what is under a stamp instead of losing the lines it covers."""
    from PIL import ImageChops

    _hue, saturation, value = picture.convert("HSV").split()
    coloured = ImageChops.multiply(
        saturation.point(lambda x: 255 if x > 60 else 0), value.point(lambda x: 255 if x > 80 else 0)
    )
    grey = picture.convert("L")
    grey.paste(255, mask=coloured)
    return grey


def ocr(source: Path, kind: str, pages: list[int], languages: str, budget_s: float) -> dict[str, Any]:
    """The text Tesseract reads on each page in ``pages``, until ``budget_s`` is spent (the rest: ``left``)."""
    tesseract = shutil.which("tesseract")
    if tesseract is None:
        raise Failed(messages.NO_TESSERACT)
    started = time.monotonic()
    if kind == "image":
        image, page_count = _image_frames(source)
    else:
        document = _open_pdf(source)
        page_count = len(document)
    texts: dict[str, str] = {}
    left = []
    with tempfile.TemporaryDirectory(prefix="kb-ocr-") as work:
        for number in pages:
            if not 1 <= number <= page_count:
                continue
            if texts and time.monotonic() - started > budget_s:
                left.append(number)
                continue
            if kind == "image":
                picture = _frame(image, number)
                picture.thumbnail((OCR_MAX_SIDE, OCR_MAX_SIDE))
            else:
                scale = OCR_DPI / 72
                picture = _page_bitmap(document, number, width=OCR_MAX_SIDE, height=OCR_MAX_SIDE, max_scale=scale)
            png = Path(work) / f"{number}.png"
            for_ocr(picture).save(png)
            remaining = max(5.0, budget_s - (time.monotonic() - started))
            finished = subprocess.run(
                [tesseract, str(png), "stdout", "-l", languages, "--psm", "3"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=remaining,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "OMP_THREAD_LIMIT": "1", "LANG": "C.UTF-8"},
            )
            png.unlink()
            if finished.returncode != 0:
                raise Failed(messages.OCR_FAILED, page=number, detail=_status(finished.returncode))
            texts[str(number)] = finished.stdout.decode("utf-8", errors="replace")
    return {"page_count": page_count, "texts": texts, "left": left}


# --- entry point ---------------------------------------------------------------------------------------------


def handle(request: dict[str, Any]) -> dict[str, Any]:
    source = Path(request["source"])
    op = request["op"]
    if op == "convert":
        convert(source, request["type_name"], Path(request["pdf_out"]), float(request["timeout_s"]))
        return {}
    if op == "render":
        return render(source, request["kind"], [int(n) for n in request["pages"]], Path(request["out_dir"]))
    if op == "ocr":
        pages = [int(n) for n in request["pages"]]
        return ocr(source, request["kind"], pages, request["languages"], float(request["budget_s"]))
    raise ValueError(f"unknown operation {op!r}")


def main() -> int:
    request = json.loads(sys.stdin.read())
    result_fd = os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints, even from C code, go to stderr
    warnings.simplefilter("ignore")
    limit_resources(int(request["memory_mb"]), int(request["cpu_seconds"]))
    try:
        result = {"ok": True, **handle(request)}
    except Failed as exc:
        result = {"ok": False, "error": str(exc)}
    except MemoryError:
        os._exit(EXIT_OUT_OF_MEMORY)
    except subprocess.TimeoutExpired as exc:
        result = {"ok": False, "error": messages.TIMED_OUT % {"seconds": f"{exc.timeout:g}"}}
    except Exception as exc:  # a renderer meeting a malformed file raises anything: the file is at fault
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
        result = {"ok": False, "error": messages.UNREADABLE % {"detail": detail}}
    with os.fdopen(result_fd, "w", encoding="utf-8") as out:
        json.dump(result, out, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.modules.setdefault("numpy", None)  # type: ignore[arg-type]  # not needed here; saves memory and start-up
    sys.exit(main())
