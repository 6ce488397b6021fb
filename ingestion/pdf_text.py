"""Page text via pypdfium2, and the checks that turn a bad file into one clear reason."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

# Below this many text characters per page on average, with images on the pages, a PDF is a scan.
_MIN_CHARS_PER_PAGE = 20
_TAIL_BYTES = 4096


class PdfError(Exception):
    """A file that cannot be ingested; ``str(exc)`` is the reason shown to the user."""


@dataclass
class PdfText:
    pages: list[str]  # index 0 is page 1

    def __len__(self) -> int:
        return len(self.pages)

    def page(self, number: int) -> str:
        """Text of a 1-based page."""
        return self.pages[number - 1]


def check_file(path: Path) -> None:
    """Cheap checks before pdfium: existence, size, PDF header, trailer."""
    if not path.exists():
        raise PdfError("file not found")
    if not path.is_file():
        raise PdfError("not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise PdfError("empty file (0 bytes)")
    with path.open("rb") as fh:
        head = fh.read(1024)
        fh.seek(max(0, size - _TAIL_BYTES))
        tail = fh.read()
    if b"%PDF-" not in head:
        shown = head[:16].decode("utf-8", "replace").strip()
        raise PdfError(f"not a PDF (no %PDF- header; starts with {shown!r})")
    # Every complete PDF ends with %%EOF (incremental updates append another one at the end).
    if b"%%EOF" not in tail:
        raise PdfError(f"truncated PDF (no %%EOF trailer; {size} bytes)")


def open_pdf(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        msg = str(exc)
        if "password" in msg.lower() or "security" in msg.lower():
            raise PdfError("encrypted PDF (password required)") from exc
        raise PdfError(f"damaged PDF ({msg})") from exc


def read_pdf_text(path: str | Path) -> PdfText:
    """Text of every page; raises :class:`PdfError` with a clear reason for files we cannot use."""
    path = Path(path)
    check_file(path)
    pdf = open_pdf(path)
    try:
        if len(pdf) == 0:
            raise PdfError("PDF has no pages")
        pages = []
        for i in range(len(pdf)):
            page = pdf[i]
            try:
                textpage = page.get_textpage()
                pages.append(textpage.get_text_range())
                textpage.close()
            except pdfium.PdfiumError as exc:
                raise PdfError(f"damaged PDF (page {i + 1} unreadable: {exc})") from exc
            finally:
                page.close()
        if sum(len(t.strip()) for t in pages) < _MIN_CHARS_PER_PAGE * len(pages):
            raise PdfError("image-only PDF (no text layer; scanned reports need OCR, which is not supported)")
        return PdfText(pages)
    finally:
        pdf.close()


def page_text_floor(path: str | Path) -> int:
    """The benchmark floor: plain page-text extraction, nothing else. Returns the page count."""
    pdf = pdfium.PdfDocument(str(path))
    try:
        for i in range(len(pdf)):
            page = pdf[i]
            tp = page.get_textpage()
            tp.get_text_range()
            tp.close()
            page.close()
        return len(pdf)
    finally:
        pdf.close()
