"""The student pages under /me/: server-rendered, phone-first; they call selectors.

A student sees only their own pages. Staff see any learner's pages as that learner sees them
with ``?as=<external id>`` (a banner says so, and the learner's own controls are read-only);
a student who asks for someone else's is refused with a 403. The forms (dismiss a moment,
leaderboard visibility) always act on the signed-in user, never on the one viewed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from accounts.selectors import user_by_external_id
from gamification.forms import LeaderboardForm, LeaderboardVisibilityForm, MomentsSeenForm
from gamification.selectors import summary as selectors
from gamification.selectors.leaderboards import PERIODS
from gamification.selectors.leagues import league_history, league_standing
from gamification.selectors.summary import PERIOD_LABELS, PERIOD_PHRASES
from gamification.services.moments_seen import moments_mark_seen
from gamification.services.visibility import leaderboard_visibility_set

XP_PAGE_SIZE = 25


@dataclass(frozen=True)
class Subject:
    """Whose pages these are, and whether a staff member is looking at them as that learner."""

    user: User
    viewing_as: bool

    def query(self, **extra: object) -> str:
        """The query string (with `extra`) that keeps staff on the same learner."""
        params: dict[str, object] = {"as": self.user.external_id} if self.viewing_as else {}
        params.update({k: v for k, v in extra.items() if v not in (None, "")})
        return "?" + urlencode(params) if params else ""


def _subject(request: HttpRequest) -> Subject:
    """The learner whose pages are asked for: the signed-in user, or for staff ``?as=``."""
    wanted = request.GET.get("as", "").strip()
    me = request.user
    if not wanted or wanted == (me.external_id or ""):
        return Subject(user=me, viewing_as=False)
    if not me.is_staff:
        raise PermissionDenied("You can only see your own progress.")
    user = user_by_external_id(external_id=wanted[:128])
    if user is None:
        raise Http404("No learner has that external id.")
    return Subject(user=user, viewing_as=True)


def _page(
    request: HttpRequest, template: str, subject: Subject, tab: str, **context: object
) -> HttpResponse:
    context.setdefault("header", selectors.learner_header(user_id=subject.user.pk))
    return render(
        request,
        template,
        {"subject": subject, "learner": subject.user, "as_query": subject.query(), "tab": tab}
        | context,
    )


@require_GET
@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """The learner's overview: level, streak with its heat-map, ranks, league, news."""
    subject = _subject(request)
    summary = selectors.learner_gamification_summary(user_id=subject.user.pk)
    calendar = selectors.streak_calendar(user_id=subject.user.pk, today=summary.today)
    return _page(
        request,
        "gamification/overview.html",
        subject,
        "overview",
        header=summary,
        summary=summary,
        calendar=calendar,
    )


@require_GET
@login_required
def achievements(request: HttpRequest) -> HttpResponse:
    """Every achievement: unlocked ones with their dates, locked ones with progress."""
    subject = _subject(request)
    items = selectors.learner_achievements(user_id=subject.user.pk)
    return _page(
        request,
        "gamification/achievements.html",
        subject,
        "achievements",
        achievements=items,
        unlocked=selectors.newest_first(items),
        locked=selectors.closest_first(items),
    )


@require_GET
@login_required
def leaderboards(request: HttpRequest) -> HttpResponse:
    """The daily, weekly, monthly and all-time boards, global or per course, own row marked."""
    subject = _subject(request)
    courses = selectors.learner_course_choices(user_id=subject.user.pk)
    form = LeaderboardForm(request.GET or None, course_choices=courses)
    period, course = form.choice()
    board = selectors.learner_leaderboard(user_id=subject.user.pk, period=period, course_id=course)
    return _page(
        request,
        "gamification/leaderboards.html",
        subject,
        "leaderboards",
        board=board,
        period=period,
        period_label=PERIOD_LABELS[period],
        period_phrase=PERIOD_PHRASES[period],
        period_tabs=[
            (p, PERIOD_LABELS[p], subject.query(period=p, course=course)) for p in PERIODS
        ],
        course=course,
        course_title=dict(courses).get(course, ""),
        courses=courses,
    )


@require_GET
@login_required
def league(request: HttpRequest) -> HttpResponse:
    """This week's league table with its promotion and demotion zones, and past weeks."""
    subject = _subject(request)
    return _page(
        request,
        "gamification/league.html",
        subject,
        "league",
        standing=league_standing(user_id=subject.user.pk),
        history=league_history(user_id=subject.user.pk, limit=8),
    )


@require_GET
@login_required
def xp_history(request: HttpRequest) -> HttpResponse:
    """The learner's XP ledger, newest first, a page at a time."""
    subject = _subject(request)
    page = Paginator(selectors.xp_history(user_id=subject.user.pk), XP_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return _page(
        request,
        "gamification/xp_history.html",
        subject,
        "xp",
        page=page,
        items=selectors.xp_history_items(page.object_list),
        previous_query=subject.query(page=page.previous_page_number())
        if page.has_previous()
        else "",
        next_query=subject.query(page=page.next_page_number()) if page.has_next() else "",
    )


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("gamification:overview")
    return redirect(target)


@require_POST
@login_required
def moments_seen(request: HttpRequest) -> HttpResponse:
    """Dismiss one of the signed-in learner's moments, or all of them (never anyone else's)."""
    form = MomentsSeenForm(request.POST)
    if form.is_valid():
        moment = form.cleaned_data["moment"]
        moments_mark_seen(user_id=request.user.pk, moment_ids=[moment] if moment else None)
    return _back(request)


@require_POST
@login_required
def leaderboard_visibility(request: HttpRequest) -> HttpResponse:
    """Show the signed-in learner on leaderboards by name, or as "a learner"."""
    form = LeaderboardVisibilityForm(request.POST)
    form.is_valid()  # an unchecked box is simply "off"
    show = bool(form.cleaned_data.get("show"))
    leaderboard_visibility_set(user_id=request.user.pk, show=show)
    messages.success(
        request,
        "Others now see your name on leaderboards and in your league."
        if show
        else "Others now see you as “a learner”; you still see your own name and rank.",
    )
    return _back(request)
