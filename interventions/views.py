"""Tracking endpoints and the one-click unsubscribe page. Thin: they call tracking services.

Responses are never cacheable (each request is a fact to count), and a forged token is a 404
that says nothing more.
"""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import User
from core.errors import DomainValidationError
from core.views import staff_required
from engagement.charts import figure_html
from interventions import charts
from interventions.channels.push import vapid_public_key
from interventions.models import Channel
from interventions.selectors.contacts import message_settings_of
from interventions.selectors.notifications import notification_list
from interventions.selectors.recipients import Recipients, recipients_for
from interventions.selectors.stats import (
    GROUPINGS,
    delivery_stats,
    delivery_trend,
    open_outreach_tasks,
)
from interventions.selectors.templates import template_get, template_list
from interventions.services.contacts import (
    OPTIONAL_CHANNELS,
    message_settings_save,
)
from interventions.services.deliveries import Skip, deliveries_queue
from interventions.services.notifications import notifications_mark_read
from interventions.services.previews import message_preview
from interventions.services.selections import selection_get
from interventions.services.tracking import (
    BadToken,
    click_url,
    delivery_click_record,
    delivery_open_record,
    unsubscribe,
    unsubscribe_target,
)

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@never_cache
@require_http_methods(["GET", "HEAD"])
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        delivery_open_record(token=token)
    except BadToken as exc:
        raise Http404 from exc
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_http_methods(["GET", "HEAD"])
def click(request: HttpRequest, token: str) -> HttpResponse:
    try:
        url = delivery_click_record(token=token)
    except BadToken as exc:
        raise Http404 from exc
    # Only ever the stored URL of this delivery's link (checked http(s) when stored).
    return HttpResponseRedirect(url)


@never_cache
@csrf_exempt  # RFC 8058: mail clients POST the one-click unsubscribe without a session
@require_http_methods(["GET", "POST"])
def unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirm button (link scanners only GET); POST unsubscribes."""
    try:
        target = unsubscribe_target(token=token)
    except BadToken as exc:
        raise Http404 from exc
    done = False
    if request.method == "POST":
        unsubscribe(token=token)
        done = True
    label = Channel(target.channel).label
    return render(
        request,
        "interventions/unsubscribe.html",
        {"done": done, "channel_label": label, "token": token},
    )


MESSAGES_PAGE_SIZE = 20


@require_GET
@login_required
def messages_page(request: HttpRequest) -> HttpResponse:
    """The signed-in learner's in-app messages, newest first; unread ones marked."""
    page = Paginator(notification_list(user_id=request.user.pk), MESSAGES_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    items = [
        {
            "message": message,
            "cta_label": message.template.cta_label,
            "cta_url": click_url(message.pk, 0) if message.links.all() else "",
        }
        for message in page.object_list
    ]
    return render(request, "interventions/messages.html", {"page": page, "items": items})


@require_POST
@login_required
def messages_read(request: HttpRequest) -> HttpResponse:
    """Mark one message (``message``) or all of them read, then back to the list."""
    wanted = request.POST.get("message")
    ids = [int(wanted)] if wanted and wanted.isdigit() else None
    notifications_mark_read(user_id=request.user.pk, delivery_ids=ids)
    return redirect("interventions:messages")


DASHBOARD_DAYS = (7, 30, 90)


@require_GET
@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Sent, open, click and conversion figures per template (or variant, channel, type)
    over the last 7, 30 or 90 days, with the day-by-day trend."""
    by = request.GET.get("by", "template")
    if by not in GROUPINGS:
        by = "template"
    try:
        days = int(request.GET.get("days", "30"))
    except ValueError:
        days = 30
    if days not in DASHBOARD_DAYS:
        days = 30
    stats = delivery_stats(by=by, days=days)
    trend = delivery_trend(days=days)
    totals = {
        "sent": sum(s.sent for s in stats),
        "opened": sum(s.opened for s in stats),
        "clicked": sum(s.clicked for s in stats),
        "converted": sum(s.converted for s in stats),
    }
    return render(
        request,
        "interventions/dashboard.html",
        {
            "by": by,
            "days": days,
            "groupings": list(GROUPINGS),
            "day_choices": DASHBOARD_DAYS,
            "stats": stats,
            "totals": totals,
            "tasks": open_outreach_tasks(),
            "trend_html": figure_html(charts.delivery_trend_figure(trend), div_id="trend-chart")
            if totals["sent"]
            else "",
            "rates_html": figure_html(charts.rates_figure(stats), div_id="rates-chart")
            if stats
            else "",
        },
    )


SEND_FILTERS = ("user", "selection", "threshold", "level", "course", "started")


def _recipients(params: Any, session: Any) -> Recipients:
    user = params.get("user", "")
    threshold = params.get("threshold", "")
    chosen = selection_get(session, params.get("selection", ""))
    if params.get("selection") and chosen is None:
        chosen = []  # not this session's (or expired): nobody, never the whole at-risk list
    return recipients_for(
        user_id=int(user) if user.isdigit() else None,
        user_ids=chosen,
        threshold=int(threshold) if threshold.isdigit() else 60,
        level=params.get("level") or None,
        course=params.get("course") or None,
        started=params.get("started") or None,
    )


@require_http_methods(["GET", "POST"])
@staff_required
def send(request: HttpRequest) -> HttpResponse:
    """Send a template to one learner or to the at-risk list's learners: pick the template
    and channel, see how many would get it (and who is skipped, why) and the message as the
    first of them reads it, then send. The batch id makes a double submit send once."""
    params = request.POST if request.method == "POST" else request.GET
    recipients = _recipients(params, request.session)
    templates = [t for t in template_list() if t.is_active]
    template = template_get(slug=params.get("template", "")) if params.get("template") else None
    channel = params.get("channel") or (template.channel if template else "")
    batch = params.get("batch") or uuid.uuid4().hex
    filters = {name: params.get(name, "") for name in SEND_FILTERS}
    context: dict[str, Any] = {
        "recipients": recipients,
        "templates": templates,
        "template": template,
        "channel": channel,
        "channels": Channel.choices,
        "batch": batch,
        "filters": filters,
    }
    if template is None:
        return render(request, "interventions/send.html", context)
    dry_run = request.method != "POST"
    try:
        result = deliveries_queue(
            template=template,
            user_ids=recipients.user_ids,
            source=f"manual:{request.user.pk}:{batch}",
            channel=channel,
            course_of=recipients.course_of,
            dry_run=dry_run,
        )
    except DomainValidationError as exc:
        context["error"] = str(exc)
        return render(request, "interventions/send.html", context, status=400)
    queued = len(result.planned if dry_run else result.queued)
    deferred = len(result.deferred)
    skipped = Counter(result.skipped.values())
    if not dry_run:
        messages.success(
            request,
            f"Queued {queued} message{'s' if queued != 1 else ''} ({deferred} waiting for the "
            f"learners' quiet hours to end); skipped {sum(skipped.values())}.",
        )
        return redirect("interventions:dashboard")
    first = next(iter(recipients.course_of.items()), None)
    if first is not None:
        learner = User.objects.get(pk=first[0])
        context["preview"] = message_preview(template, learner, course_id=first[1])[0]
        context["preview_learner"] = learner
    context.update(
        would_queue=queued,
        deferred=deferred,
        skipped=[(Skip.LABELS.get(reason, reason), n) for reason, n in sorted(skipped.items())],
    )
    return render(request, "interventions/send.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def message_settings(request: HttpRequest) -> HttpResponse:
    """How the learner wants to be reached: channels on or off, a number for texts (with
    consent), and Web Push on this device (the button is the page's script)."""
    user_id = request.user.pk
    error: DomainValidationError | None = None
    if request.method == "POST":
        try:
            message_settings_save(
                user_id=user_id,
                off=[c for c in OPTIONAL_CHANNELS if request.POST.get(f"on_{c}") != "on"],
                sms_number=request.POST.get("sms_number", ""),
                sms_consent=request.POST.get("sms_consent") == "on",
            )
        except DomainValidationError as exc:
            error = exc
        else:
            messages.success(request, "Your message settings are saved.")
            return redirect("interventions:message_settings")
    settings_now = message_settings_of(user_id=user_id)
    return render(
        request,
        "interventions/message_settings.html",
        {
            "settings": settings_now,
            "error": error.messages_text() if error else "",
            "sms_number": request.POST.get("sms_number", "") if error else settings_now.sms_number,
            "vapid_public_key": vapid_public_key(),
        },
        status=400 if error else 200,
    )


@never_cache
@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The Web Push service worker, served from /me/ so that its scope covers the student
    pages (a script under /static/ could only control /static/)."""
    return render(
        request,
        "interventions/sw.js",
        content_type="application/javascript; charset=utf-8",
    )
