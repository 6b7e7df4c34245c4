"""The entry page's query string: ?date= (today by default) and, for administrators, who
report for every hospital, ?region=."""

from __future__ import annotations

from collections.abc import Sequence

from wtforms import Form

from ..web import DayArg, RegionFilter


class EntryArgs(Form):
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
