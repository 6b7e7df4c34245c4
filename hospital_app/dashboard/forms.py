"""The dashboard's query string: ?date=, ?threshold=, ?days= (and ?page= on the full lists).
A value that cannot be used gets a message beside the filters, never a 500."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from wtforms import SelectChoice, StringField
from wtforms.validators import ValidationError

from ..web import Choice, DayArg, PageArgs

DEFAULT_THRESHOLD = Decimal(90)
PERIODS = (30, 90, 365)


class DashboardArgs(PageArgs):
    date = DayArg("Date")
    threshold = StringField("Pressure threshold (%)")
    days = Choice(
        "Trend period",
        choices=[SelectChoice(str(n), f"Last {n} days") for n in PERIODS],
        default=str(PERIODS[0]),
    )

    # Filled by validation: what the checked threshold means.
    threshold_value: Decimal

    @property
    def day(self) -> date:
        """The checked ?date= (today when absent or unusable)."""
        return self.date.day

    def validate_threshold(self, field: StringField) -> None:
        value = (field.data or "").strip().removesuffix("%").strip()
        if not value:
            self.threshold_value = DEFAULT_THRESHOLD
            return
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise ValidationError(
                f"“{field.data}” is not a number: enter a percentage from 0 to 100, e.g. 90."
            )
        if not 0 <= number <= 100:
            raise ValidationError(f"Enter a percentage from 0 to 100, not {value}.")
        if number != number.quantize(Decimal("0.1")):
            raise ValidationError(f"Use at most one decimal, e.g. 92.5, not {value}.")
        self.threshold_value = number

    @property
    def tenths(self) -> int:
        """The threshold in tenths of a percent: compared in whole numbers."""
        return int(self.threshold_value * 10)

    @property
    def period(self) -> int:
        return int(self.days.data or PERIODS[0])

    def query(self, **changes) -> dict:
        """These arguments as link values, with the checked date and threshold."""
        values = {
            "date": self.day.isoformat(),
            "threshold": f"{self.threshold_value:g}",
            "days": str(self.period),
        }
        values.update(changes)
        return values
