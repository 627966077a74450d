"""The one page layout of every printed document, drawn with ReportLab's Platypus.

Header (the tenant's logo and the document's title, number and dates), the two parties, the
lines table (its header row repeated on every page it runs onto), the totals, the notes
(payment terms, penalties), and on every page a footer with the issuer's legal mentions and
"page x / y". The standard PDF fonts are used: their WinAnsi encoding holds French accents,
quotes and the euro sign, and nothing has to be installed or embedded.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Image,
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

MARGIN = 18 * mm
FOOTER_SIZE = 7.5
LOGO_BOX = (45 * mm, 22 * mm)
BODY = ParagraphStyle("body", fontName="Helvetica", fontSize=9, leading=11.5)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8, leading=10)
RIGHT = ParagraphStyle("right", parent=BODY, alignment=TA_RIGHT)
TITLE = ParagraphStyle("title", parent=BODY, fontName="Helvetica-Bold", fontSize=18, leading=22,
                       alignment=TA_RIGHT)
HEADING = ParagraphStyle("heading", parent=BODY, fontName="Helvetica-Bold", fontSize=9.5,
                         spaceAfter=2)
# Spaces Babel puts in French numbers that WinAnsi lacks: a no-break space prints the same.
NARROW_SPACES = str.maketrans({"\u202f": "\xa0", "\u2009": "\xa0", "\u2007": "\xa0"})


@dataclass
class Printout:
    """What a document shows, already worded and formatted in the reader's language."""

    title: str
    number: str
    facts: list[tuple[str, str]]
    issuer: list[str]
    customer_heading: str
    customer: list[str]
    columns: list[str]
    numeric_columns: int  # how many of the last columns hold amounts (right-aligned)
    rows: list[list[str]]
    totals: list[tuple[str, str]] = field(default_factory=list)
    strong_totals: tuple[int, ...] = (-1,)  # the rows of `totals` in bold (the amount due)
    notes: list[str] = field(default_factory=list)
    footer: str = ""
    page_label: str = "Page %(page)d / %(pages)d"
    fact_label: str = "%(label)s: %(value)s"  # French puts a space before the colon
    author: str = ""
    column_widths: list[float] | None = None  # fractions of the width; the first column wraps


def clean(text: Any) -> str:
    """Text the standard fonts can print: WinAnsi characters only, others as "?"."""
    value = str(text or "").translate(NARROW_SPACES)
    return value.encode("cp1252", "replace").decode("cp1252")


def _para(text: Any, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape(clean(text)).replace("\n", "<br/>"), style)


def _lines(lines: list[str], style: ParagraphStyle = BODY) -> Paragraph:
    return _para("\n".join(line for line in lines if line), style)


def render(doc: Printout, *, color: str, logo: Path | None) -> bytes:
    """The PDF of `doc`, in the tenant's colour (#rrggbb) and with its logo when readable."""
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=MARGIN + 8 * mm, title=clean(f"{doc.title} {doc.number}"),
        author=clean(doc.author), creator="Relais", subject=clean(doc.title))
    width = A4[0] - 2 * MARGIN
    primary = colors.HexColor(color)
    story: list[Any] = [_header(doc, width, logo), Spacer(0, 6 * mm),
                        _parties(doc, width), Spacer(0, 6 * mm),
                        _lines_table(doc, width, primary)]
    if doc.totals:
        story += [Spacer(0, 3 * mm), _totals_table(doc, width, primary)]
    for note in doc.notes:
        story += [Spacer(0, 2.5 * mm), _para(note, SMALL)]

    def canvas_maker(*args: Any, **kwargs: Any) -> Canvas:
        return _NumberedCanvas(*args, footer=clean(doc.footer), page_label=doc.page_label,
                               **kwargs)

    template.build(story, canvasmaker=canvas_maker)
    return buffer.getvalue()


def _header(doc: Printout, width: float, logo: Path | None) -> Table:
    facts = [_para(doc.title, TITLE), _para(doc.number, RIGHT)]
    facts += [_para(doc.fact_label % {"label": label, "value": value} if value else label,
                    RIGHT) for label, value in doc.facts]
    table = Table([[_logo(logo) or "", facts]], colWidths=[width * 0.45, width * 0.55])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("LEFTPADDING", (0, 0), (0, 0), 0),
                               ("RIGHTPADDING", (-1, 0), (-1, 0), 0)]))
    return table


def _logo(path: Path | None) -> Image | None:
    """The logo scaled into its box, or nothing when it is missing or unreadable."""
    if path is None or not path.exists():
        return None
    try:
        img_width, img_height = ImageReader(str(path)).getSize()
    except Exception:  # noqa: BLE001 - a damaged logo must not cost the document
        return None
    scale = min(LOGO_BOX[0] / img_width, LOGO_BOX[1] / img_height)
    image = Image(str(path), width=img_width * scale, height=img_height * scale)
    image.hAlign = "LEFT"
    return image


def _parties(doc: Printout, width: float) -> Table:
    customer = [_para(doc.customer_heading, HEADING), _lines(doc.customer)]
    issuer = [_para(doc.issuer[0], HEADING), _lines(doc.issuer[1:], SMALL)] if doc.issuer else ""
    table = Table([[issuer, customer]], colWidths=[width * 0.5, width * 0.5])
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0),
        ("BOX", (1, 0), (1, 0), 0.5, colors.grey), ("TOPPADDING", (1, 0), (1, 0), 5),
        ("BOTTOMPADDING", (1, 0), (1, 0), 6), ("LEFTPADDING", (1, 0), (1, 0), 6)]))
    return table


def _text_on(primary: colors.Color) -> colors.Color:
    light = 0.2126 * primary.red + 0.7152 * primary.green + 0.0722 * primary.blue > 0.63
    return colors.HexColor("#212529") if light else colors.white


def _lines_table(doc: Printout, width: float, primary: colors.Color) -> Table:
    head = ParagraphStyle("head", parent=BODY, fontName="Helvetica-Bold",
                          textColor=_text_on(primary))
    head_right = ParagraphStyle("head_right", parent=head, alignment=TA_RIGHT)
    first_numeric = len(doc.columns) - doc.numeric_columns
    fractions = doc.column_widths or [1 / len(doc.columns)] * len(doc.columns)
    widths = [width * f for f in fractions]
    data: list[list[Any]] = [[_para(name, head_right if i >= first_numeric else head)
                              for i, name in enumerate(doc.columns)]]
    data += [[_cell(value, widths[i], RIGHT if i >= first_numeric else BODY)
              for i, value in enumerate(row)] for row in doc.rows]
    table = LongTable(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), primary), ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONT", (0, 1), (-1, -1), BODY.fontName, BODY.fontSize, BODY.leading),
        ("ALIGN", (first_numeric, 1), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.lightgrey),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f6f7f9")])]))
    return table


def _cell(value: str, width: float, style: ParagraphStyle) -> str | Paragraph:
    """A plain string when it fits its column (ten times cheaper to lay out than a
    paragraph: long invoices have thousands of cells), else a paragraph that wraps."""
    text = clean(value)
    if "\n" not in text and stringWidth(text, style.fontName, style.fontSize) <= width - 12:
        return text
    return _para(text, style)


def _totals_table(doc: Printout, width: float, primary: colors.Color) -> Table:
    bold = ParagraphStyle("total", parent=RIGHT, fontName="Helvetica-Bold")
    strong = {i % len(doc.totals) for i in doc.strong_totals}
    data = [[_para(label, bold if i in strong else RIGHT),
             _para(value, bold if i in strong else RIGHT)]
            for i, (label, value) in enumerate(doc.totals)]
    table = Table(data, colWidths=[width * 0.25, width * 0.2], hAlign="RIGHT")
    table.setStyle(TableStyle([("LINEABOVE", (0, i), (-1, i), 1, primary) for i in sorted(strong)]))
    return table


class _NumberedCanvas(Canvas):
    """Pages kept until the end, so that each footer can say "page x / y"."""

    def __init__(self, *args: Any, footer: str, page_label: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer, self._page_label, self._pages = footer, page_label, []

    def showPage(self) -> None:  # noqa: N802 - ReportLab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        for state in self._pages:
            self.__dict__.update(state)
            self._draw_footer(len(self._pages))
            super().showPage()
        super().save()

    def _draw_footer(self, pages: int) -> None:
        page_width = A4[0]
        self.saveState()
        self.setFont("Helvetica", FOOTER_SIZE)
        self.setFillColor(colors.HexColor("#555555"))
        self.setStrokeColor(colors.lightgrey)
        self.line(MARGIN, MARGIN + 6 * mm, page_width - MARGIN, MARGIN + 6 * mm)
        text_width = page_width - 2 * MARGIN - 25 * mm
        for i, line in enumerate(simpleSplit(self._footer, "Helvetica", FOOTER_SIZE,
                                             text_width)[:2]):
            self.drawString(MARGIN, MARGIN + 2.5 * mm - i * 3.5 * mm, line)
        label = clean(self._page_label % {"page": self.getPageNumber(), "pages": pages})
        self.drawRightString(page_width - MARGIN, MARGIN + 2.5 * mm, label)
        self.restoreState()
