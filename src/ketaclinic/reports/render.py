"""A patient progress report as PDF bytes, from :class:`content.PatientReport`. Pure: no I/O.

fpdf2 writes the PDF in Python alone (no system libraries), and its core Helvetica font needs no
font file; the price is the Windows-1252 character set, so other characters are transliterated
(see :func:`pdf_text`). Charts are drawn with the PDF's own lines, so the report needs no plotting
library and stays sharp when printed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos

from ketaclinic.labels import label
from ketaclinic.outcomes.core import score_text as score
from ketaclinic.reports import charts
from ketaclinic.reports.content import PatientReport
from ketaclinic.reports.outcome_lines import MOOD_INSTRUMENT, PAIN_INSTRUMENT, ResponseLine

TITLE = "Patient progress report"
DISCLAIMER = (
    "This report summarises the clinic's record to support clinicians; it does not replace "
    "their clinical judgement. Doses delivered are derived from the recorded pump timeline."
)
FONT = "Helvetica"
_HEADINGS = FontFace(emphasis="BOLD", fill_color=(225, 232, 240))
_SUBSTITUTES = str.maketrans(
    {
        "≤": "<=",
        "≥": ">=",
        "≠": "!=",
        "→": "->",
        "←": "<-",
        "×": "x",
        "−": "-",
        "\u00a0": " ",
        "Ł": "L",
        "ł": "l",
        "Đ": "D",
        "đ": "d",
        "ı": "i",
    }
)
#: Started sessions: the ones a chart marks, because a dose was given.
_STARTED_STATES = frozenset({"infusing", "paused", "observing", "discharged", "aborted"})


def pdf_text(value: object) -> str:
    """``value`` in the core font's character set: typographic marks kept where it has them,
    accents stripped where it does not, anything else as "?" (never an error mid-report)."""
    text = str(value).translate(_SUBSTITUTES)
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


def number(value: Decimal | None, places: int = 2) -> str:
    """A recorded quantity for people: at most ``places`` decimals, no trailing zeros."""
    if value is None:
        return "-"
    exact = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    text = format(exact.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def _day(value: date) -> str:
    return value.isoformat()


class _Document(FPDF):
    """A4 with a running header (whose report) and footer (page n of m)."""

    def __init__(self, report: PatientReport) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.report = report
        # The core fonts are WinAnsi-encoded in the PDF, so Windows-1252 adds dashes and quotes.
        self.core_fonts_encoding = "cp1252"
        self.set_margins(15, 18, 15)
        self.set_auto_page_break(auto=True, margin=16)
        self.set_title(f"{TITLE}: {pdf_text(report.identity.name)}")
        self.set_creator("ketaclinic")

    def header(self) -> None:
        self.set_font(FONT, "", 8)
        self.set_text_color(90, 90, 90)
        who = f"{self.report.identity.name}, MRN {self.report.identity.mrn}"
        self.cell(self.epw / 2, 6, pdf_text(self.report.clinic))
        self.cell(self.epw / 2, 6, pdf_text(who), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(90, 90, 90)
        generated = f"Generated {_when(self.report.generated_at)} ({self.report.zone})"
        self.cell(self.epw / 2, 6, pdf_text(generated))
        self.cell(self.epw / 2, 6, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)

    def heading(self, text: str) -> None:
        if self.will_page_break(24):
            self.add_page()
        self.ln(3)
        self.set_font(FONT, "B", 12)
        self.cell(0, 7, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(150, 160, 175)
        self.line(self.l_margin, self.get_y(), self.l_margin + self.epw, self.get_y())
        self.ln(2)
        self.set_font(FONT, "", 9)

    def paragraph(self, text: str, *, muted: bool = False) -> None:
        self.set_font(FONT, "I" if muted else "", 9)
        self.multi_cell(0, 4.8, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, "", 9)

    def grid(
        self, headings: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]
    ) -> None:
        self.set_font(FONT, "", 8.5)
        with self.table(
            col_widths=tuple(widths),
            text_align="LEFT",
            line_height=4.6,
            headings_style=_HEADINGS,
            padding=1.2,
        ) as table:
            for row in (headings, *rows):
                cells = table.row()
                for value in row:
                    cells.cell(pdf_text(value))
        self.set_font(FONT, "", 9)
        self.ln(1)


def render(report: PatientReport) -> bytes:
    """The report as a PDF file's bytes."""
    pdf = _Document(report)
    pdf.add_page()
    pdf.set_font(FONT, "B", 18)
    pdf.cell(0, 10, TITLE, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    pdf.paragraph(f"Generated {_when(report.generated_at)} ({report.zone}) by {report.clinic}.")
    pdf.paragraph(DISCLAIMER, muted=True)
    _identity(pdf, report)
    _diagnoses(pdf, report)
    _courses(pdf, report)
    _sessions(pdf, report)
    _outcomes(pdf, report)
    _adverse_events(pdf, report)
    return bytes(pdf.output())


def _identity(pdf: _Document, report: PatientReport) -> None:
    who = report.identity
    pdf.heading("Patient")
    rows = [[who.name, who.mrn, _day(who.birth_date), who.sex]]
    pdf.grid(("Name", "MRN", "Born", "Sex"), rows, (4, 3, 2, 2))


def _diagnoses(pdf: _Document, report: PatientReport) -> None:
    pdf.heading("Diagnoses (ICD-10-CM)")
    if not report.diagnoses:
        pdf.paragraph("No diagnoses recorded.", muted=True)
        return
    rows = [[d.code, d.title, "primary" if d.primary else ""] for d in report.diagnoses]
    pdf.grid(("Code", "Title", ""), rows, (2, 9, 1.4))


def _courses(pdf: _Document, report: PatientReport) -> None:
    pdf.heading("Courses of treatment")
    if not report.courses:
        pdf.paragraph("No course of treatment recorded.", muted=True)
        return
    rows = [
        [
            c.protocol,
            _day(c.started),
            label(c.phase),
            c.series_progress,
            f"{_day(c.ended)}: {c.end_reason or ''}" if c.ended else "open",
        ]
        for c in report.courses
    ]
    headings = ("Protocol", "Started", "Phase", "Series done", "Ended")
    pdf.grid(headings, rows, (5, 2, 2, 2, 4))


def _sessions(pdf: _Document, report: PatientReport) -> None:
    pdf.heading("Sessions")
    if not report.sessions:
        pdf.paragraph("No sessions recorded.", muted=True)
        return
    rows = [
        [
            _when(s.at),
            label(s.state),
            s.chair,
            s.protocol,
            s.planned or "no order",
            number(s.delivered_mg),
            number(s.delivered_ml),
            s.reason or "",
        ]
        for s in report.sessions
    ]
    headings = ("Booked", "State", "Chair", "Protocol", "Order", "Given mg", "Given mL", "Note")
    pdf.grid(headings, rows, (3.6, 2.2, 1.8, 3.6, 4, 1.6, 1.6, 3))


def _outcomes(pdf: _Document, report: PatientReport) -> None:
    pdf.heading("Outcomes")
    if not report.outcomes:
        pdf.paragraph("No questionnaires recorded.", muted=True)
        return
    for line in report.responses:
        pdf.paragraph(_response_text(line))
    marks = [s.at for s in report.sessions if s.state in _STARTED_STATES]
    for instrument, title, top, ticks in (
        (PAIN_INSTRUMENT, "Pain intensity (NRS 0-10)", 10, (0, 2, 4, 6, 8, 10)),
        (MOOD_INSTRUMENT, "Depression (PHQ-9 total 0-27)", 27, (0, 5, 10, 15, 20, 27)),
    ):
        points = [(o.at, float(o.value)) for o in report.outcomes if o.instrument == instrument]
        if points:
            charts.line_chart(pdf, charts.Chart(title, points, marks, top, ticks), font=FONT)
    rows = [
        [_when(o.at), o.label, label(o.context), score(o.value), label(o.band or "")]
        for o in report.outcomes
    ]
    pdf.grid(("Measured", "Instrument", "Context", "Score", "Band"), rows, (3, 2, 2, 1.5, 3))


def _response_text(line: ResponseLine) -> str:
    change = (
        "no percentage from a zero baseline"
        if line.change_percent is None
        else f"{'+' if line.change_percent > 0 else ''}{score(line.change_percent)} %"
    )
    return (
        f"{line.label}: {score(line.baseline)} at baseline ({line.baseline_at:%Y-%m-%d}), "
        f"{score(line.latest)} latest ({line.latest_at:%Y-%m-%d}); change {change}; "
        f"{line.verdict}."
    )


def _adverse_events(pdf: _Document, report: PatientReport) -> None:
    pdf.heading("Adverse events")
    if not report.adverse_events:
        pdf.paragraph(
            "None recorded: no alerts, no moderate or severe side effects, no aborted sessions.",
            muted=True,
        )
        return
    rows = [
        [_when(a.at), str(a.session_id), a.kind, a.severity, a.text] for a in report.adverse_events
    ]
    pdf.grid(("When", "Session", "Kind", "Severity", "What"), rows, (3, 1.5, 2, 2, 8))
