"""The follow-up list's filters, and a reviewer's answer to one follow-up."""

from __future__ import annotations

from wtforms import SelectChoice, TextAreaField
from wtforms.validators import Length

from .. import rules
from ..web import ActionForm, Choice, PageArgs, RegionFilter


class FollowUpFilters(PageArgs):
    status = Choice(
        "Status",
        default="open",
        choices=[
            SelectChoice("", "Any"),
            *(SelectChoice(k, v) for k, v in rules.FOLLOW_UP_STATUSES.items()),
        ],
    )
    region = RegionFilter()
    reason = Choice(
        "Reason",
        default="",
        choices=[
            SelectChoice("", "Any"),
            *(SelectChoice(k, v) for k, v in rules.FOLLOW_UP_REASONS.items()),
            SelectChoice("none", "Not asked"),
        ],
    )

    def __init__(self, formdata, regions: list[str]):
        super().__init__(formdata)
        self.regions = regions

    def query(self) -> dict:
        return {
            "status": self.status.data or "",
            "region": self.region.data or "",
            "reason": self.reason.data or "",
        }


class AnswerForm(ActionForm):
    """Checked, or sent back: a comment, needed when sending back (the hospital reads it)."""

    comment = TextAreaField(
        rules.label("comment"),
        filters=[rules.strip_or_none],
        validators=[Length(max=rules.FOLLOW_UP_COMMENT_MAX)],
    )
