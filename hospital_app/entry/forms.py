"""The entry page's query string: ?date= (today by default) and, for administrators, who
report for every hospital, ?region=."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from werkzeug.datastructures import MultiDict

from .. import rules
from ..models import Report
from ..report_entry import ReportForm
from ..web import CheckedArgs, CheckedForm, DayArg, RegionFilter


class EntryArgs(CheckedArgs):
    date = DayArg()
    region = RegionFilter()

    def __init__(self, *args, regions: Sequence[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.regions = list(regions)

    @property
    def day(self):
        return self.date.day

    def query(self, **changes) -> dict:
        """These arguments as link values (the checked day; the region when one is chosen)."""
        values = {"date": self.day.isoformat()}
        if self.region.data:
            values["region"] = self.region.data
        values.update(changes)
        return {key: value for key, value in values.items() if value is not None}


# --- The grid: several hospitals' reports on one screen ------------------------------------
# Each row is the report form itself, its fields named with the hospital's prefix
# (h12-beds_occupied), so every rule and message is the form's own. The page has one CSRF
# token (checked for every POST by CSRFProtect) and one day, the page's ?date=.

_ROW_NAME = re.compile(r"^h([1-9][0-9]{0,17})-")


class GridForm(CheckedForm):
    """The grid page's one CSRF token; its rows are report forms without one of their own."""


def row_prefix(hospital_id: int) -> str:
    return f"h{hospital_id}-"


def posted_hospital_ids(formdata) -> list[int]:
    """The hospitals a submitted grid has rows for, read from its field names."""
    found = {int(match.group(1)) for key in formdata if (match := _ROW_NAME.match(key))}
    return sorted(found)


def row_is_empty(formdata, hospital_id: int) -> bool:
    """A row with none of the day's figures typed is not saved: its capacity, filled in from
    the last report, does not count."""
    prefix = row_prefix(hospital_id)
    return not any((formdata.get(prefix + name) or "").strip() for name in rules.DAY_FIGURES)


def grid_row(formdata, hospital_id: int, day: date, previous: Report | None = None) -> ReportForm:
    """One row's report form: with `formdata`, what was submitted for the hospital, dated
    the page's day whatever the row sent; without, a blank row starting with the capacity of
    the hospital's `previous` report."""
    if formdata is not None:
        formdata = MultiDict(formdata)
        formdata.setlist(row_prefix(hospital_id) + "report_date", [day.isoformat()])
    form = ReportForm(
        formdata=formdata,
        prefix=row_prefix(hospital_id),
        hospital_id=hospital_id,
        meta={"csrf": False},
    )
    if formdata is None:
        form.report_date.data = day
        if previous is not None:
            for name in rules.CAPACITY_FIELDS:
                form[name].data = getattr(previous, name)
    return form
