"""Tracking endpoints and the one-click unsubscribe page. Thin: they call tracking services.

Responses are never cacheable (each request is a fact to count), and a forged token is a 404
that says nothing more.
"""

from __future__ import annotations

import base64

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from interventions.models import Channel
from interventions.selectors.notifications import notification_list
from interventions.services.notifications import notifications_mark_read
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
