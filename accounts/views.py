"""Sign-in pages: email and password, one-time sign-in links, LTI 1.3 login and launch, and the
tool's public keys. Each calls one service and renders; refusals get one page with the reason."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import lti
from accounts.errors import SignInRefused
from accounts.models import User
from accounts.selectors import lti_tool_jwks
from accounts.services import lti_launch_accept, safe_next_path, sign_in_link_redeem

# Links and launches prove who someone is by themselves: no password backend takes part.
PASSWORDLESS_BACKEND = "django.contrib.auth.backends.ModelBackend"


def home_for(user: User) -> str:
    """Where a signed-in person lands: staff on LOGIN_REDIRECT_URL, everyone else (students,
    instructors) on STRIDE_STUDENT_HOME."""
    if user.is_staff:
        return resolve_url(settings.LOGIN_REDIRECT_URL)
    return resolve_url(settings.STRIDE_STUDENT_HOME)


class SignInView(LoginView):
    """Django's login page, landing each person on their own home unless `next` says where."""

    template_name = "accounts/login.html"

    def get_default_redirect_url(self) -> str:
        return home_for(self.request.user)


def _refused(request: HttpRequest, refusal: SignInRefused, *, by: str) -> HttpResponse:
    return render(
        request,
        "accounts/sign_in_refused.html",
        {"refusal": refusal, "by": by},
        status=refusal.status,
    )


@csrf_exempt  # the platform's cross-site redirect or form post; only a state cookie is set
@require_http_methods(["GET", "POST"])
@never_cache
def lti_login(request: HttpRequest) -> HttpResponse:
    """LTI 1.3 third-party login initiation: send the browser on to the platform's sign-in."""
    launch_url = request.build_absolute_uri(reverse("accounts:lti-launch"))
    try:
        return lti.login_redirect(request, launch_url=launch_url)
    except SignInRefused as refusal:
        return _refused(request, refusal, by="lti")


# LTI's own CSRF defence replaces Django's token: the state must match this browser's state
# cookie, the nonce must be one we issued and is spent once, and the id_token is signed.
@csrf_exempt
@require_POST
@never_cache
def lti_launch(request: HttpRequest) -> HttpResponse:
    """LTI 1.3 launch: verify the posted id_token, sign its learner in, open their home."""
    try:
        user = lti_launch_accept(launch=lti.launch_verify(request))
    except SignInRefused as refusal:
        return _refused(request, refusal, by="lti")
    login(request, user, backend=PASSWORDLESS_BACKEND)
    return HttpResponseRedirect(resolve_url(settings.STRIDE_STUDENT_HOME))


@require_GET
def lti_jwks(request: HttpRequest) -> JsonResponse:
    """Stride's public tool keys (JWKS), for the platforms it is registered with."""
    response = JsonResponse(lti_tool_jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET  # not HEAD: link previewers that only peek do not spend the link
@never_cache
def sign_in_link(request: HttpRequest, token: str) -> HttpResponse:
    """Spend a one-time sign-in link: sign its student in and open `next` or their home."""
    try:
        link = sign_in_link_redeem(raw_token=token)
    except SignInRefused as refusal:
        return _refused(request, refusal, by="link")
    login(request, link.user, backend=PASSWORDLESS_BACKEND)
    target = (
        safe_next_path(request.GET.get("next", ""))
        or safe_next_path(link.next_path)
        or resolve_url(settings.STRIDE_STUDENT_HOME)
    )
    return HttpResponseRedirect(target)
