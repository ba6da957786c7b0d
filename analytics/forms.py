"""The filters every analytics page shares: a time range (7, 30, 90 days or custom) and a
course, validated from the query string."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import QuerySet

from learning.models import Course

RANGE_CHOICES = [("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("custom", "Custom")]
DEFAULT_RANGE = "30"
MAX_CUSTOM_DAYS = 3 * 366  # a custom range longer than three years is refused


@dataclass(frozen=True)
class Selection:
    """What a page shows: local days start..end (both included) and one course or all."""

    start: datetime.date
    end: datetime.date
    course: Course | None
    range: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def query(self, **extra: Any) -> dict[str, str]:
        """The query string that selects this again (for links and CSV exports)."""
        out = {"range": self.range}
        if self.range == "custom":
            out.update({"from": self.start.isoformat(), "to": self.end.isoformat()})
        if self.course is not None:
            out["course"] = self.course.external_id
        out.update({k: str(v) for k, v in extra.items()})
        return out


class AnalyticsFilterForm(forms.Form):
    """Validates ?range=&from=&to=&course=; `courses` are the ones the user may see."""

    range = forms.ChoiceField(choices=RANGE_CHOICES, required=False)
    from_ = forms.DateField(required=False, label="From")
    to = forms.DateField(required=False, label="To")
    course = forms.ChoiceField(required=False)

    def __init__(
        self,
        data: Any,
        *,
        courses: QuerySet[Course],
        latest_day: datetime.date,
        all_courses_label: str = "All courses",
        **kwargs: Any,
    ) -> None:
        data = data.copy() if data is not None else {}
        if "from" in data:
            data["from_"] = data["from"]
        super().__init__(data, **kwargs)
        self.courses = {c.external_id: c for c in courses}
        self.latest_day = latest_day
        self.offers_all_courses = bool(all_courses_label)
        choices = [(c.external_id, c.title) for c in self.courses.values()]
        self.fields["course"].choices = (
            [("", all_courses_label), *choices] if all_courses_label else choices
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("range") == "custom":
            start, end = data.get("from_"), data.get("to")
            if start is None:
                self.add_error("from_", "A custom range needs a start date (from).")
            if end is None:
                self.add_error("to", "A custom range needs an end date (to).")
            if start and end and end < start:
                self.add_error("to", "The end date is before the start date.")
            if start and end and (end - start).days + 1 > MAX_CUSTOM_DAYS:
                self.add_error("to", f"A range can span at most {MAX_CUSTOM_DAYS} days.")
        return data

    def selection(self) -> Selection:
        """The valid selection; what failed validation falls back to its default (the page
        shows the errors beside the filters)."""
        data = self.cleaned_data if self.is_valid() else {}
        errors = self.errors
        course = None
        if "course" not in errors:
            course = self.courses.get(data.get("course") or "")
        if course is None and not self.offers_all_courses:
            # A page that needs one course (funnels) falls back to the first visible one.
            course = next(iter(self.courses.values()), None)
        chosen = data.get("range") or DEFAULT_RANGE
        if chosen == "custom" and not any(k in errors for k in ("from_", "to", "range")):
            return Selection(data["from_"], data["to"], course, "custom")
        if chosen == "custom":
            chosen = DEFAULT_RANGE
        days = int(chosen)
        end = self.latest_day
        return Selection(end - datetime.timedelta(days=days - 1), end, course, chosen)
