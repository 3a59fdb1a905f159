"""Previews: page and slide images of every version, and the text of its scans read by OCR.

``store`` keeps the images by the file's SHA-256; ``sandbox`` converts, draws and reads in a limited child process
that ``run`` starts; ``build`` is the worker's job, the pages drawn on demand and ``kb previews rebuild``.
"""
