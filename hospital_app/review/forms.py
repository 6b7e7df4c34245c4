"""The review page's query string, its sign-off form and the reopening form."""

from __future__ import annotations

from collections.abc import Sequence

from wtforms import BooleanField, HiddenField, TextAreaField
from wtforms.validators import DataRequired, Length

from .. import rules
from ..web import ActionForm, CheckedArgs, CheckedForm, DayArg, RegionFilter


class ReviewRegion(RegionFilter):
    """?region=, one of the regions in use that the person reviews."""

    def post_validate(self, form, validation_stopped: bool) -> None:
        super().post_validate(form, validation_stopped)
        if self.errors and self.data:
            self.errors[:] = [f"“{rules.clip(self.data)}” is not one of the regions you review."]


class ReviewArgs(CheckedArgs):
    """?date= (today by default) and ?region=, one of the regions the person reviews."""

    date = DayArg()
    region = ReviewRegion()

    def __init__(self, *args, regions: Sequence[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.regions = list(regions)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if valid and not self.region.data and self.regions:
            self.region.data = self.regions[0]  # the first of the person's regions
        return valid

    @property
    def day(self):
        return self.date.day

    def query(self, **changes) -> dict:
        values = {"date": self.day.isoformat(), "region": self.region.data or None}
        values.update(changes)
        return {key: value for key, value in values.items() if value is not None}


def seen_text(reports) -> str:
    """The reports a page showed to sign off, as "id:version" pairs: the sign-off covers those
    and only if none changed meanwhile."""
    return ",".join(f"{r.id}:{r.version}" for r in sorted(reports, key=lambda r: r.id))


class SignOffForm(CheckedForm):
    """Sign off a region's day: the day and region (the page's), the reports it showed, and,
    when some hospitals have not reported, the reviewer's confirmation to go on without them."""

    date = HiddenField()
    region = HiddenField()
    seen = HiddenField()
    confirm_missing = BooleanField("Sign off the reports present although some are missing")


class ReopenForm(ActionForm):
    reason = TextAreaField(
        rules.label("reopen_reason"),
        filters=[rules.strip_or_none],
        validators=[
            DataRequired("Say why the report is reopened: the audit trail keeps it."),
            Length(
                max=rules.REOPEN_REASON_MAX,
                message=f"Keep the reason to {rules.REOPEN_REASON_MAX} characters.",
            ),
        ],
        description="What is to be checked or corrected. The hospital's editors can then change "
        "the report; it needs signing off again.",
    )

    def visible_fields(self):
        return [self.reason]

    def focus_field(self):
        return self.reason
