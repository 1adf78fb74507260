"""A score-over-time line chart drawn with the PDF's own lines. Pure: no I/O.

A plotting library would need a browser or system libraries to make an image; a few lines and
circles in the PDF need neither, print sharply, and keep the tick labels as searchable text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from fpdf import FPDF

PLOT_HEIGHT_MM = 38.0
_Y_LABEL_MM = 9.0
_POINT_RADIUS_MM = 0.9
_LINE = (31, 78, 140)
_GRID = (215, 215, 215)
_SESSION = (200, 120, 40)
_PAD = timedelta(hours=12)


@dataclass(frozen=True)
class Chart:
    """``points`` are (when, score); ``marks`` the sessions' times; ``top`` the scale's maximum."""

    title: str
    points: Sequence[tuple[datetime, float]]
    marks: Sequence[datetime]
    top: float
    ticks: Sequence[float]


def line_chart(pdf: FPDF, chart: Chart, *, font: str) -> None:
    """Draw ``chart`` across the page width at the current position, then move below it."""
    if pdf.will_page_break(PLOT_HEIGHT_MM + 20):
        pdf.add_page()
    pdf.set_font(font, "B", 9)
    pdf.cell(0, 6, chart.title, new_x="LMARGIN", new_y="NEXT")
    left = pdf.l_margin + _Y_LABEL_MM
    right = pdf.l_margin + pdf.epw - 2
    top = pdf.get_y() + 2
    bottom = top + PLOT_HEIGHT_MM
    times = [t for t, _ in chart.points] + list(chart.marks)
    start, end = min(times) - _PAD, max(times) + _PAD
    span = (end - start).total_seconds()

    def x_of(when: datetime) -> float:
        return left + (right - left) * (when - start).total_seconds() / span

    def y_of(value: float) -> float:
        clamped = min(max(value, 0.0), chart.top)
        return bottom - (bottom - top) * clamped / chart.top

    _grid(pdf, chart, left, right, y_of, font)
    _sessions(pdf, [x_of(m) for m in chart.marks], top, bottom)
    _series(pdf, [(x_of(t), y_of(v)) for t, v in sorted(chart.points)])
    _time_axis(pdf, start + _PAD, end - _PAD, x_of, bottom, font)
    pdf.set_xy(pdf.l_margin, bottom + 8)


def _grid(
    pdf: FPDF, chart: Chart, left: float, right: float, y_of: Callable[[float], float], font: str
) -> None:
    pdf.set_font(font, "", 7)
    pdf.set_line_width(0.15)
    pdf.set_draw_color(*_GRID)
    for tick in chart.ticks:
        y = y_of(tick)
        pdf.line(left, y, right, y)
        pdf.set_xy(pdf.l_margin, y - 1.5)
        pdf.cell(_Y_LABEL_MM - 1, 3, f"{tick:g}", align="R")
    pdf.set_draw_color(120, 120, 120)
    pdf.line(left, y_of(0), right, y_of(0))
    pdf.line(left, y_of(chart.top), left, y_of(0))


def _sessions(pdf: FPDF, xs: Sequence[float], top: float, bottom: float) -> None:
    pdf.set_draw_color(*_SESSION)
    pdf.set_line_width(0.25)
    pdf.set_dash_pattern(dash=1.2, gap=1.0)
    for x in xs:
        pdf.line(x, top, x, bottom)
    pdf.set_dash_pattern()


def _series(pdf: FPDF, xy: Sequence[tuple[float, float]]) -> None:
    pdf.set_draw_color(*_LINE)
    pdf.set_fill_color(*_LINE)
    pdf.set_line_width(0.5)
    if len(xy) > 1:
        pdf.polyline(list(xy))
    r = _POINT_RADIUS_MM
    for x, y in xy:
        pdf.circle(x - r, y - r, r, style="F")
    pdf.set_line_width(0.2)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_fill_color(255, 255, 255)  # tables drawn next would take the series colour


def _time_axis(
    pdf: FPDF,
    first: datetime,
    last: datetime,
    x_of: Callable[[datetime], float],
    bottom: float,
    font: str,
) -> None:
    """Dates under the first and last readings (and the middle when they are days apart), and
    a key to the session marks."""
    pdf.set_font(font, "", 7)
    stamps = [first, last]
    if (last - first) > timedelta(days=2):
        stamps.insert(1, first + (last - first) / 2)
    for when in stamps:
        pdf.set_xy(x_of(when) - 12, bottom + 1)
        pdf.cell(24, 3, f"{when:%Y-%m-%d}", align="C")
    pdf.set_xy(pdf.l_margin, bottom + 4.5)
    pdf.set_text_color(*_SESSION)
    pdf.cell(0, 3, "dashed lines: infusion sessions", align="R")
    pdf.set_text_color(0, 0, 0)
