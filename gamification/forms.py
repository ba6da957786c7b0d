"""Forms of the student pages: the leaderboard's period and course, the visibility toggle."""

from __future__ import annotations

from typing import Any

from django import forms

from gamification.selectors.leaderboards import PERIODS
from gamification.selectors.summary import PERIOD_LABELS


class LeaderboardForm(forms.Form):
    """Which leaderboard to show: a period, and optionally one of the learner's courses."""

    period = forms.ChoiceField(
        choices=[(p, PERIOD_LABELS[p]) for p in PERIODS], required=False, initial="weekly"
    )
    course = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)

    def __init__(self, *args: Any, course_choices: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["course"].choices = [("", "All courses"), *course_choices]

    def choice(self) -> tuple[str, int | None]:
        """The period and course asked for; a field that is invalid (an unknown period, a
        course the learner is not in) falls back to its default, the other one stands."""
        if not self.is_bound:
            return "weekly", None
        self.is_valid()  # cleaned_data then holds the fields that are valid
        return self.cleaned_data.get("period") or "weekly", self.cleaned_data.get("course")


class LeaderboardVisibilityForm(forms.Form):
    """Show me on leaderboards by name (on) or as "a learner" (off)."""

    show = forms.BooleanField(required=False)


class MomentsSeenForm(forms.Form):
    """Dismiss one moment (`moment`) or, without it, every new moment."""

    moment = forms.IntegerField(required=False, min_value=1)
