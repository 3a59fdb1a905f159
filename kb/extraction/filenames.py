"""The name a stored file keeps: its extension agrees with the type its content has.

A file is stored and downloaded under its uploaded name, so a name that says another type than the content
(``deck.pdf.exe`` holding a PDF) would download as something it is not. The content decides: the name gets the
type's extension (``deck.pdf``), and a text file named as a program, a script or an image that can run code
(``shell.php``, ``img.svg``) is refused, because it is that, not a document.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from kb.errors import N_
from kb.extraction.types import EXTENSIONS, TEXT_TYPES, FileType, RejectedFile

#: Extensions of programs, scripts, web pages run by a server, and images that can carry scripts. A text file
#: with one of these names is what its name says: kb does not take it.
ACTIVE_EXTENSIONS = frozenset(
    {
        ".exe", ".dll", ".com", ".scr", ".pif", ".cpl", ".msi", ".msp", ".sys", ".ocx", ".bat", ".cmd", ".ps1",
        ".psm1", ".psd1", ".vbs", ".vbe", ".js", ".jse", ".mjs", ".cjs", ".wsf", ".wsh", ".hta", ".lnk", ".url",
        ".reg", ".inf", ".scf", ".jar", ".class", ".sh", ".bash", ".zsh", ".csh", ".ksh", ".command", ".desktop",
        ".app", ".applescript", ".scpt", ".php", ".php3", ".php4", ".php5", ".php7", ".phps", ".phtml", ".phar",
        ".asp", ".aspx", ".ashx", ".asmx", ".cer", ".jsp", ".jspx", ".cgi", ".pl", ".py", ".pyw", ".rb", ".svg",
        ".svgz", ".xhtml", ".xht", ".xsl", ".xslt", ".swf", ".shtml",
    }
)  # fmt: skip
#: Extensions of other document formats and of downloads in progress, replaced rather than kept before the
#: type's (a DOCX named ``memo.doc`` becomes ``memo.docx``, not ``memo.doc.docx``).
_OTHER_EXTENSIONS = frozenset(
    {".doc", ".dot", ".xls", ".xlt", ".ppt", ".pps", ".pot", ".rtf", ".zip", ".bin", ".dat", ".tmp", ".download",
     ".crdownload", ".part", ".partial"}
)  # fmt: skip
#: Extensions that are replaced by the type's: every one kb knows of, whatever type it names.
_REPLACED = ACTIVE_EXTENSIONS | _OTHER_EXTENSIONS | frozenset(EXTENSIONS)

_ACTIVE = N_(
    "kb does not accept %(extension)s files: they are programs, scripts or images that can run code, not "
    "documents. Accepted: %(accepted)s."
)


def extensions_of(file_type: FileType) -> frozenset[str]:
    """The extensions a file of ``file_type`` may have (``.htm`` and ``.html`` for HTML), in lower case."""
    return frozenset(ext for ext, known in EXTENSIONS.items() if known.extension == file_type.extension)


def agreeing_name(filename: str, file_type: FileType) -> str:
    """``filename`` with an extension of ``file_type``: kept when it has one, else the type's extension replaces
    the one it has (``deck.pdf.exe`` → ``deck.pdf``, ``offer.bin`` → ``offer.pdf``) or follows the name
    (``notes.log`` → ``notes.log.txt``, ``price`` → ``price.pdf``).

    Raises ``RejectedFile`` for a text file named as a program, a script or an active image (``shell.php``).
    """
    path = PurePosixPath(filename)
    extension = path.suffix.lower()
    allowed = extensions_of(file_type)
    if extension in allowed:
        return filename
    if file_type.name in TEXT_TYPES and extension in ACTIVE_EXTENSIONS:
        raise RejectedFile(_ACTIVE, extension=extension)
    stem = filename[: -len(extension)] if extension in _REPLACED else filename
    if PurePosixPath(stem).suffix.lower() in allowed:
        return stem
    return stem + file_type.extension
