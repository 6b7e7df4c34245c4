"""Line charts drawn on the server as SVG: no JavaScript, nothing from outside, and the same
picture on screen and on paper.

A chart is one value per day per series; None is a day without reports and leaves a gap in
the line, never a drop to zero. Only presentation attributes are used (stroke, fill, x, y…):
the Content-Security-Policy blocks style="…" attributes. Every text is escaped, since series
names are region names people typed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

from markupsafe import Markup, escape

# Told apart by colour and by dash pattern, so the lines still differ in grey print and for
# people who do not see the colours.
PALETTE = (
    "#0b6e4f",
    "#c2410c",
    "#1d4ed8",
    "#a21caf",
    "#854d0e",
    "#0e7490",
    "#be123c",
    "#4d7c0f",
    "#475569",
    "#7c3aed",
)
DASHES = ("", "7 4", "2 3", "9 3 2 3")

WIDTH = 760
PLOT_HEIGHT = 210
LEFT, RIGHT = 52, 18
LEGEND_ITEM = 170
LEGEND_ROW = 20
X_LABELS = 44  # room for the narrow labels below
MAX_TICKS = 7
GRID_STEP = 20  # percent
# On a phone the 760 units are drawn about 330 px wide, which would make 12-unit text 5 px.
# The chart then shows other labels instead (dashboard.css switches them): NARROW_FONT units,
# 12 px or more from 330 px wide, fewer of them, the percentages inside the plot; its legend
# is HTML beside the picture (Chart.legend).
NARROW_FONT = 30
NARROW_TICKS = 4


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]

    @cached_property  # asked for by the chart, its table and its SVG: counted once
    def points(self) -> int:
        return sum(v is not None for v in self.values)


@dataclass
class Chart:
    """Daily values of one or more series over `dates`, on a 0–`y_max` percent scale."""

    id: str
    title: str
    caption: str
    dates: Sequence[date]
    series: list[Series]
    y_max: float = 100.0
    # Columns shown in the chart's table but not drawn (e.g. how many hospitals reported).
    extra: list[tuple[str, Sequence]] = field(default_factory=list)

    @property
    def points(self) -> int:
        return sum(s.points for s in self.series)

    @property
    def empty(self) -> bool:
        return self.points == 0

    def days_with_data(self) -> int:
        return len({i for s in self.series for i, v in enumerate(s.values) if v is not None})

    def rows(self):
        """(date, [value per series], [extra values]) per day, newest first: the table."""
        for i in range(len(self.dates) - 1, -1, -1):
            yield (
                self.dates[i],
                [s.values[i] for s in self.series],
                [values[i] for _, values in self.extra],
            )

    def table_body(self) -> Markup:
        """The rows of the chart's table (rows()), written in one pass: at 365 days and eight
        regions a Jinja loop with a filter per cell was the dashboard's largest cost. The
        cells read as templating's day, percent and number filters write them."""
        if "_table_body" in self.__dict__:
            return self.__dict__["_table_body"]  # kept, as svg() is
        out = []
        for day, values, extras in self.rows():
            cells = "".join(
                f'<td class="num">{"—" if v is None else f"{v:.1f} %"}</td>' for v in values
            )
            cells += "".join(
                f'<td class="num">{"—" if v is None else f"{v:,}"}</td>' for v in extras
            )
            out.append(f'<tr><th scope="row">{_day(day)}</th>{cells}</tr>')
        self.__dict__["_table_body"] = Markup("\n".join(out))  # noqa: S704 -- numbers, dates
        return self.__dict__["_table_body"]

    def description(self) -> str:
        if not self.dates:
            return "No days to show."
        first, last = self.dates[0], self.dates[-1]
        return (
            f"From {_day(first)} to {_day(last)}: {self.days_with_data()} of {len(self.dates)} "
            "days have reports; days without reports are gaps in the lines."
        )

    def legend(self) -> list[tuple[str, str, str]]:
        """(name, colour, dash pattern) per series, for a legend drawn in HTML."""
        return [(s.name, _colour(k), DASHES[k % len(DASHES)]) for k, s in enumerate(self.series)]

    def svg(self) -> Markup:
        # Kept on the chart once drawn: a chart the dashboard keeps (dashboard/queries.py)
        # is drawn once, however often it is shown.
        if "_svg" not in self.__dict__:
            self.__dict__["_svg"] = Markup(render_svg(self))  # noqa: S704 -- texts escaped
        return self.__dict__["_svg"]


def _day(d: date, year: bool = True) -> str:
    return f"{d.day} {d:%b %Y}" if year else f"{d.day} {d:%b}"


def _n(value: float) -> str:
    return f"{value:.1f}"


def _ticks(n: int, most: int = MAX_TICKS) -> list[int]:
    """At most `most` day indexes, evenly spaced and ending on the last day."""
    if n <= 0:
        return []
    step = max(1, math.ceil((n - 1) / (most - 1))) if n > 1 else 1
    return sorted(range(n - 1, -1, -step))


def _tick_anchor(ticks: list[int], i: int, tx: float, room: float) -> str:
    """Where a date label hangs from its tick: centred, except that the first one (when it
    has less than `room` units of margin) and the last one would stick out of the chart."""
    if len(ticks) > 1 and i == ticks[0] and tx - LEFT < room:
        return "start"
    if len(ticks) > 1 and i == ticks[-1]:
        return "end"
    return "middle"


def render_svg(chart: Chart) -> str:
    n = len(chart.dates)
    per_row = max(1, (WIDTH - LEFT - RIGHT) // LEGEND_ITEM)
    legend_rows = math.ceil(len(chart.series) / per_row) if chart.series else 0
    top = 12 + legend_rows * LEGEND_ROW + (8 if legend_rows else 0)
    height = top + PLOT_HEIGHT + X_LABELS
    plot_w = WIDTH - LEFT - RIGHT
    bottom = top + PLOT_HEIGHT

    def x(i: int) -> float:
        return LEFT + (i * plot_w / (n - 1) if n > 1 else plot_w / 2)

    y_max = chart.y_max

    def y(v: float) -> float:
        return top + PLOT_HEIGHT * (1 - min(max(v, 0.0), y_max) / y_max)

    cid = escape(chart.id)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart__svg" viewBox="0 0 {WIDTH} {height}"'
        f' width="{WIDTH}" height="{height}" role="img"'
        f' aria-labelledby="{cid}-title {cid}-desc" data-days="{n}" data-points="{chart.points}">',
        f'<title id="{cid}-title">{escape(chart.title)}</title>',
        f'<desc id="{cid}-desc">{escape(chart.description())}</desc>',
    ]

    # Legend, above the plot.
    out.append('<g class="legend" font-size="13">')
    for k, s in enumerate(chart.series):
        lx = LEFT + (k % per_row) * LEGEND_ITEM
        ly = 12 + (k // per_row) * LEGEND_ROW + 6
        out.append(
            f'<line x1="{lx}" y1="{ly}" x2="{lx + 26}" y2="{ly}" stroke="{_colour(k)}"'
            f' stroke-width="3"{_dash(k)}/>'
            f'<text x="{lx + 32}" y="{ly + 4}" fill="#1b1f24">{escape(s.name)}</text>'
        )
    out.append("</g>")

    # Horizontal gridlines with their percent labels.
    out.append('<g class="grid" font-size="12" fill="#5b6470">')
    value = 0.0
    while value <= chart.y_max + 1e-9:
        gy = _n(y(value))
        out.append(
            f'<line x1="{LEFT}" y1="{gy}" x2="{WIDTH - RIGHT}" y2="{gy}" stroke="#d6dbe1"'
            ' stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{_n(y(value) + 4)}" text-anchor="end">{value:g} %</text>'
        )
        value += GRID_STEP
    out.append("</g>")

    # Day ticks along the bottom.
    out.append('<g class="x-axis" font-size="12" fill="#5b6470">')
    ticks = _ticks(n)
    for i in ticks:
        tx = x(i)
        anchor = _tick_anchor(ticks, i, tx, room=30)
        out.append(
            f'<line x1="{_n(tx)}" y1="{bottom}" x2="{_n(tx)}" y2="{bottom + 5}" stroke="#5b6470"/>'
            f'<text x="{_n(tx)}" y="{bottom + 19}" text-anchor="{anchor}">'
            f"{escape(_day(chart.dates[i], year=False))}</text>"
        )
    out.append(
        f'<line x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}" stroke="#5b6470"/>'
        f'<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="#5b6470"/>'
    )
    out.append("</g>")

    # Each day's x, formatted once for all the series that have a value that day.
    xs = [_n(x(i)) for i in range(n)]
    out += _series(chart, xs, y)
    out += _narrow_labels(chart, x, y, bottom)
    out.append("</svg>")
    return "".join(out)


def _series(chart: Chart, xs: list[str], y) -> list[str]:
    out = []
    # The series: one polyline per run of consecutive days with a value; a lone day (a value
    # between two gaps) is a dot, since a one-point line would not show.
    for k, s in enumerate(chart.series):
        colour = _colour(k)
        out.append(
            f'<g class="series" data-series="{escape(s.name)}" data-points="{s.points}"'
            f' stroke="{colour}" fill="none" stroke-width="2" stroke-linejoin="round">'
        )
        # Each value's y, formatted once: a year of eight regions is 6,000 points a page.
        ys = [None if v is None else _n(y(v)) for v in s.values]
        for run in _runs(s.values):
            if len(run) == 1:
                i = run[0]
                out.append(
                    f'<circle class="point" cx="{xs[i]}" cy="{ys[i]}" r="3"'
                    f' fill="{colour}" stroke="none"/>'
                )
            else:
                coords = " ".join([f"{xs[i]},{ys[i]}" for i in run])
                out.append(f'<polyline class="line" points="{coords}"{_dash(k)}/>')
        out.append("</g>")
    return out


def _narrow_labels(chart: Chart, x, y, bottom: float) -> list[str]:
    """The labels of a chart drawn narrow (a phone), hidden unless the stylesheet shows them:
    each percentage just under its gridline, inside the plot (the margin is too narrow for
    the large text), with a white halo over the lines; and NARROW_TICKS dates."""
    out = [
        f'<g class="narrow-labels" display="none" font-size="{NARROW_FONT}" fill="#1b1f24"'
        ' stroke="#fff" stroke-width="6" paint-order="stroke">'
    ]
    value = chart.y_max
    while value > 1e-9:  # no label at 0 %: the x axis says it, and the dates sit there
        out.append(f'<text x="{LEFT + 6}" y="{_n(y(value) + NARROW_FONT - 2)}">{value:g} %</text>')
        value -= GRID_STEP
    ticks = _ticks(len(chart.dates), NARROW_TICKS)
    for i in ticks:
        tx = x(i)
        # The large dates are about 100 units wide: they need more room at the start.
        anchor = _tick_anchor(ticks, i, tx, room=60)
        out.append(
            f'<text x="{_n(tx)}" y="{bottom + NARROW_FONT + 6}" text-anchor="{anchor}">'
            f"{escape(_day(chart.dates[i], year=False))}</text>"
        )
    out.append("</g>")
    return out


def _runs(values: Sequence[float | None]) -> list[list[int]]:
    """Indexes of the values, split where a value is missing."""
    runs: list[list[int]] = []
    current: list[int] = []
    for i, v in enumerate(values):
        if v is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(i)
    if current:
        runs.append(current)
    return runs


def _colour(k: int) -> str:
    return PALETTE[k % len(PALETTE)]


def _dash(k: int) -> str:
    dash = DASHES[k % len(DASHES)]
    return f' stroke-dasharray="{dash}"' if dash else ""


# --- Occupancy, the figure every chart of the app draws --------------------------------------


def ratio(part: int | None, whole: int | None) -> float | None:
    """Percent; None where there is nothing to divide by (no beds, no reports). int(): MariaDB
    returns SUM() as a Decimal, of whole numbers here."""
    return 100 * int(part) / int(whole) if whole else None


def days_ending(end: date, days: int) -> list[date]:
    return [end - timedelta(days=days - 1 - i) for i in range(days)]


def occupancy_chart(
    chart_id: str, title: str, caption: str, dates: list[date], by_day: dict, extra=()
) -> Chart:
    """Bed and ICU occupancy for each of `dates`, from {day: (beds occupied, beds, ICU beds
    occupied, ICU beds)}; a day missing there is a gap."""
    figures = [by_day.get(d, (None,) * 4) for d in dates]
    series = [
        Series("Bed occupancy", tuple(ratio(f[0], f[1]) for f in figures)),
        Series("ICU occupancy", tuple(ratio(f[2], f[3]) for f in figures)),
    ]
    return Chart(
        id=chart_id, title=title, caption=caption, dates=dates, series=series, extra=list(extra)
    )
