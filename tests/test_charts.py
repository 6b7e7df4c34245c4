"""hospital_app.charts on its own: well-formed SVG, one vertex per value, gaps where values
are missing, positions on the scale, escaped names, a text alternative."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest

from hospital_app.charts import LEFT, RIGHT, WIDTH, Chart, Series, _ticks

SVG = "{http://www.w3.org/2000/svg}"
START = date(2026, 1, 1)


def chart(*series: tuple[str, list], days: int | None = None) -> Chart:
    n = days if days is not None else len(series[0][1])
    return Chart(
        id="c",
        title="Test chart",
        caption="For the tests.",
        dates=[START + timedelta(days=i) for i in range(n)],
        series=[Series(name, tuple(values)) for name, values in series],
    )


def parse(c: Chart) -> ET.Element:
    return ET.fromstring(str(c.svg()))  # noqa: S314 -- our own output, in a test


def lines(root: ET.Element) -> list[list[tuple[float, float]]]:
    return [
        [tuple(map(float, p.split(","))) for p in pl.get("points").split()]
        for pl in root.iter(f"{SVG}polyline")
    ]


def dots(root: ET.Element) -> list[tuple[float, float]]:
    return [(float(c.get("cx")), float(c.get("cy"))) for c in root.iter(f"{SVG}circle")]


def test_one_vertex_per_value_and_a_gap_where_one_is_missing():
    root = parse(chart(("A", [10, 20, None, 40, 50, 60, None, 80])))
    # Runs: days 0–1, 3–5 lines; day 7 alone, a dot.
    assert [len(line) for line in lines(root)] == [2, 3]
    assert len(dots(root)) == 1
    series = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "series")
    assert series.get("data-points") == "6"
    assert root.get("data-points") == "6"
    assert root.get("data-days") == "8"


def test_no_values_draw_no_line():
    root = parse(chart(("A", [None] * 5)))
    assert lines(root) == [] and dots(root) == []
    assert chart(("A", [None] * 5)).empty


def test_positions_follow_the_scale():
    root = parse(chart(("A", [0, 50, 100])))
    (line,) = lines(root)
    xs, ys = [p[0] for p in line], [p[1] for p in line]
    assert xs[0] == LEFT and xs[-1] == WIDTH - RIGHT
    assert xs[1] == pytest.approx((xs[0] + xs[2]) / 2, abs=0.1)
    bottom, middle, top = ys
    assert bottom > middle > top
    assert middle == pytest.approx((bottom + top) / 2, abs=0.1)
    # 0 % sits on the x axis: the axis line is at the same height.
    axis = [ln for ln in root.iter(f"{SVG}line") if ln.get("x2") == str(WIDTH - RIGHT)]
    assert any(float(ln.get("y1")) == bottom for ln in axis)


def test_a_single_day_is_a_dot_in_the_middle():
    root = parse(chart(("A", [42.0])))
    assert lines(root) == []
    ((cx, _),) = dots(root)
    assert cx == pytest.approx(LEFT + (WIDTH - LEFT - RIGHT) / 2, abs=0.1)


def test_several_series_have_their_own_group_legend_colour_and_dash():
    c = chart(("North", [1, 2, 3]), ("South", [4, None, 6]), ("East", [7, 8, 9]))
    root = parse(c)
    groups = [g for g in root.iter(f"{SVG}g") if g.get("class") == "series"]
    assert [g.get("data-series") for g in groups] == ["North", "South", "East"]
    assert len({g.get("stroke") for g in groups}) == 3
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    assert [t.text for t in legend.iter(f"{SVG}text")] == ["North", "South", "East"]
    dashes = [ln.get("stroke-dasharray") for ln in legend.iter(f"{SVG}line")]
    assert len(set(dashes)) == 3  # told apart without colour too
    assert c.points == 8


def test_names_are_escaped():
    name = '<script>alert("x")</script> & Co'
    c = chart((name, [1, 2]))
    svg = str(c.svg())
    assert "<script>" not in svg
    root = parse(c)
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    assert next(legend.iter(f"{SVG}text")).text == name


def test_title_description_and_labelling():
    c = chart(("A", [1, None, 3, None]))
    root = parse(c)
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert title.text == "Test chart"
    assert desc.text == (
        "From 1 Jan 2026 to 4 Jan 2026: 2 of 4 days have reports; "
        "days without reports are gaps in the lines."
    )


def test_gridlines_and_labelled_ticks():
    root = parse(chart(("A", [50] * 365)))
    grid = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "grid")
    assert [t.text for t in grid.iter(f"{SVG}text")] == [f"{v} %" for v in range(0, 101, 20)]
    axis = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "x-axis")
    labels = [t.text for t in axis.iter(f"{SVG}text")]
    assert 2 <= len(labels) <= 7
    assert labels[-1] == "31 Dec"  # the last day is always labelled


@pytest.mark.parametrize("n", [1, 2, 7, 30, 90, 365])
def test_ticks_end_on_the_last_day_and_stay_few(n):
    ticks = _ticks(n)
    assert ticks[-1] == n - 1
    assert len(ticks) <= 7
    assert ticks == sorted(set(ticks))


def test_table_rows_newest_first_with_extra_columns():
    c = chart(("A", [1.0, None, 3.0]))
    c.extra = [("Hospitals reporting", [2, None, 5])]
    rows = list(c.rows())
    assert rows[0] == (START + timedelta(days=2), [3.0], [5])
    assert rows[1] == (START + timedelta(days=1), [None], [None])


def test_no_style_attribute():
    svg = str(chart(("A", [1, 2, None, 4]), ("B", [None, 2, 3, 4])).svg())
    assert not re.search(r"\sstyle\s*=", svg)
