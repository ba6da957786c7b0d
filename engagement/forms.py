"""The at-risk list's filter form (threshold slider, level, course, started, page)."""

from __future__ import annotations

from typing import Any

from django import forms

from engagement.models import EngagementScore
from engagement.selectors.dashboard import AT_RISK_DEFAULT_THRESHOLD as DEFAULT_THRESHOLD
from engagement.selectors.dashboard import STARTED_CHOICES


class AtRiskFilterForm(forms.Form):
    """Validates the dashboard's query string; `course` choices come from a selector."""

    threshold = forms.IntegerField(
        min_value=0,
        max_value=100,
        required=False,
        initial=DEFAULT_THRESHOLD,
        widget=forms.NumberInput(attrs={"type": "range", "step": 5}),
        help_text="Show enrolments whose drop-off risk is at least this.",
    )
    level = forms.ChoiceField(
        choices=[("", "Any level"), *EngagementScore.Level.choices], required=False
    )
    course = forms.ChoiceField(required=False)
    started = forms.ChoiceField(choices=[("", "Started or not"), *STARTED_CHOICES], required=False)
    page = forms.IntegerField(min_value=1, required=False)

    def __init__(self, *args: Any, course_choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["course"].choices = [("", "All courses"), *course_choices]

    def filters(self) -> dict[str, Any]:
        """The cleaned filters with defaults for what was left out (call after is_valid)."""
        data = self.cleaned_data
        threshold = data.get("threshold")
        return {
            "threshold": DEFAULT_THRESHOLD if threshold is None else threshold,
            "level": data.get("level") or None,
            "course": data.get("course") or None,
            "started": data.get("started") or None,
            "page": data.get("page") or 1,
        }
