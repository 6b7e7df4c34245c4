"""The timeliness page's query string (also its CSV export's): ?from=, ?to=, ?region=, ?sort=,
?page=. A value that cannot be used gets a message beside the filters (400), never a 500."""

from __future__ import annotations

from datetime import date, timedelta

from wtforms import SelectChoice
from wtforms.validators import Optional

from .. import cycle, rules
from ..report_entry import ReportDateField
from ..web import Choice, PageArgs, RegionFilter
from .queries import MAX_DAYS, SORT_KEYS, default_range

# A heading's first click: counts largest first; names and rates in ascending order, so the
# lowest rates (the hospitals to call) come first.
LARGEST_FIRST = ("due", "reported", "on_time", "late", "missing")


class TimelinessFilters(PageArgs):
    date_from = ReportDateField("From", name="from", validators=[Optional()])
    date_to = ReportDateField("To", name="to", validators=[Optional()])
    region = RegionFilter()
    sort = Choice(
        "Sort",
        choices=[
            SelectChoice(f"{sign}{key}", f"{label}, {'descending' if sign else 'ascending'}")
            for key, (label, _value) in SORT_KEYS.items()
            for sign in ("", "-")
        ],
        default="name",
    )

    # Filled by validation: the range the page adds up.
    first: date
    last: date

    def __init__(self, *args, regions: list[str] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.regions = list(regions)

    def validate(self, extra_validators=None) -> bool:
        if not super().validate(extra_validators):
            return False
        today = cycle.local_today()
        first, last = default_range(today)
        given_from, given_to = self.date_from.data, self.date_to.data
        if given_to is not None:
            last = given_to
        elif given_from is not None and given_from > last:
            last = today
        if given_from is not None:
            first = given_from
        elif given_to is not None:
            first = max(last - timedelta(days=7 * 4 - 1), rules.EARLIEST_REPORT_DATE)
        problems = []
        for field, day in ((self.date_from, given_from), (self.date_to, given_to)):
            problems += [(field, m) for m in rules.report_date_errors(day)]
        if not problems and last < first:
            problems.append(
                (
                    self.date_to,
                    f"The end date ({rules.day_text(last)}) is before the start date "
                    f"({rules.day_text(first)}).",
                )
            )
        elif not problems and (last - first).days + 1 > MAX_DAYS:
            problems.append(
                (
                    self.date_to,
                    f"Choose at most {MAX_DAYS} days: {rules.day_text(first)} to "
                    f"{rules.day_text(last)} is {(last - first).days + 1} days.",
                )
            )
        for field, message in problems:
            field.errors = [*field.errors, message]
        self.first, self.last = first, last
        if not problems:
            # The inputs show the range the page adds up, defaults included.
            self.date_from.data, self.date_to.data = first, last
        return not problems

    def sort_key(self) -> tuple[str, bool]:
        """(column, descending)."""
        value = self.sort.data or "name"
        return value.lstrip("-"), value.startswith("-")
