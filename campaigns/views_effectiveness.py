"""The effectiveness page: does contacting learners keep them? Every rule, campaign and
template with a holdout, ranked by the measured uplift of contacting on activity in the next
14 days (campaigns.selectors.effectiveness)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from campaigns.selectors.effectiveness import MIN_PER_ARM, effectiveness_report
from core.views import staff_required


@staff_required
def effectiveness_page(request: HttpRequest) -> HttpResponse:
    effects = effectiveness_report()
    return render(
        request,
        "campaigns/effectiveness.html",
        {"effects": effects, "min_per_arm": MIN_PER_ARM},
    )
