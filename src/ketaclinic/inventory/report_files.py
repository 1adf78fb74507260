"""An inventory report (``inventory.reports.Report``) as a PDF or a CSV file. Pure: no I/O.

The PDF is drawn with fpdf2's core Helvetica, as the patient report is (``reports.render``), in
landscape so a record's many columns stay readable when printed. The CSV holds the same cells;
any text a spreadsheet would run as a formula is neutralised (``web.csv_export``), and quantities
are written as exact numbers, never in exponent form.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos

from ketaclinic.inventory.reports import Cell, Report, cell_text, exact
from ketaclinic.reports.render import pdf_text
from ketaclinic.web.csv_export import neutralise

FONT = "Helvetica"
_HEADINGS = FontFace(emphasis="BOLD", fill_color=(225, 232, 240))


class _Number:
    """A quantity for the CSV writer: written exactly as the ledger holds it, and not text, so
    a negative adjustment is not mistaken for a formula and prefixed."""

    def __init__(self, value: Decimal) -> None:
        self.text = exact(value)

    def __str__(self) -> str:
        return self.text


def _csv_cell(value: Cell) -> object:
    if isinstance(value, Decimal):
        return _Number(value)
    return neutralise("" if value is None else value)


def csv_text(report: Report) -> str:
    """The report as CSV: its facts as label/value rows, then each table under its title."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([neutralise(report.title)])
    writer.writerow(["Clinic", neutralise(report.clinic)])
    for label, value in report.facts:
        writer.writerow([neutralise(label), neutralise(value)])
    for table in report.tables:
        writer.writerow([])
        writer.writerow([neutralise(table.title)])
        writer.writerow([neutralise(h) for h in table.headings])
        writer.writerows([_csv_cell(v) for v in row] for row in table.rows)
    writer.writerow([])
    for note in report.notes:
        writer.writerow([neutralise(note)])
    return out.getvalue()


class _Document(FPDF):
    """A4 landscape with a running header (clinic and report) and footer (page n of m)."""

    def __init__(self, report: Report, zone: ZoneInfo) -> None:
        super().__init__(orientation="L", unit="mm", format="A4")
        self.report = report
        self.zone = zone
        self.core_fonts_encoding = "cp1252"
        self.set_margins(12, 15, 12)
        self.set_auto_page_break(auto=True, margin=14)
        self.set_title(pdf_text(report.title))
        self.set_creator("ketaclinic")

    def header(self) -> None:
        self.set_font(FONT, "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(self.epw / 2, 6, pdf_text(self.report.clinic))
        self.cell(
            self.epw / 2,
            6,
            pdf_text(self.report.title),
            align="R",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.set_text_color(0, 0, 0)
        self.ln(1)

    def footer(self) -> None:
        self.set_y(-11)
        self.set_font(FONT, "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(
            self.epw / 2, 6, pdf_text(f"Generated {_when(self.report.generated_at, self.zone)}")
        )
        self.cell(self.epw / 2, 6, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)

    def heading(self, text: str) -> None:
        if self.will_page_break(22):
            self.add_page()
        self.ln(2)
        self.set_font(FONT, "B", 11)
        self.cell(0, 7, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, "", 8)

    def paragraph(self, text: str, *, muted: bool = False) -> None:
        self.set_font(FONT, "I" if muted else "", 8.5)
        self.multi_cell(0, 4.4, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, "", 8)

    def grid(
        self, headings: Sequence[str], rows: Sequence[Sequence[Cell]], widths: Sequence[float]
    ) -> None:
        self.set_font(FONT, "", 7)
        with self.table(
            col_widths=tuple(widths),
            text_align="LEFT",
            line_height=3.8,
            headings_style=_HEADINGS,
            padding=1,
        ) as table:
            for row in (headings, *rows):
                cells = table.row()
                for value in row:
                    cells.cell(pdf_text(cell_text(value)))
        self.set_font(FONT, "", 8)


def _when(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"


def pdf_bytes(report: Report, zone: ZoneInfo) -> bytes:
    """The report as a PDF file's bytes."""
    pdf = _Document(report, zone)
    pdf.add_page()
    pdf.set_font(FONT, "B", 15)
    pdf.multi_cell(0, 8, pdf_text(report.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 8.5)
    facts = [("Clinic", report.clinic), *report.facts]
    pdf.grid(("Record", "Value"), [(label, value) for label, value in facts], (1, 4))
    for table in report.tables:
        pdf.heading(table.title)
        if table.rows:
            pdf.grid(table.headings, table.rows, table.widths)
        else:
            pdf.paragraph(table.empty, muted=True)
    pdf.ln(2)
    for note in report.notes:
        pdf.paragraph(note, muted=True)
    return bytes(pdf.output())
