"""The LTI 1.3 protocol through pylti1p3: registered platforms as its tool configuration, the
OIDC login step and the verification of a launch's id_token.

pylti1p3 does the protocol: the login redirect with a fresh state (a short-lived cookie that
binds the launch to this browser) and nonce (kept server-side in the cache), the id_token's
RS256 signature against the platform's key set, its expiry, issuer, audience (the client id
must be a registered one) and message claims. What it leaves to the tool is done here:

- only registered deployments of an active platform are accepted;
- the platform's key set is fetched with a timeout and cached, and fetched again once when a
  launch is signed with a key id the cached set lacks (the platform rotated its keys);
- `exp` and `iat` are required, and an `aud` list needs `azp` naming our client id;
- only resource link launches open a page (deep linking etc. are refused);
- every failure becomes a `SignInRefused` saying why, never a 500.

pylti1p3 keeps a nonce valid after its launch; the launch service spends it exactly once
(`LtiLaunch`'s unique constraint).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from pylti1p3.contrib.django import DjangoCacheDataStorage, DjangoMessageLaunch, DjangoOIDCLogin
from pylti1p3.deployment import Deployment
from pylti1p3.exception import LtiException, OIDCException
from pylti1p3.registration import Registration
from pylti1p3.roles import TeacherRole
from pylti1p3.tool_config.abstract import ToolConfAbstract

from accounts.errors import SignInRefused
from accounts.models import LtiPlatform
from accounts.selectors import lti_tool_key_signing

logger = logging.getLogger(__name__)

# How long a login may take to come back as a launch (pylti1p3 keeps state and nonce so long).
LOGIN_WINDOW_SECONDS = 600
RESOURCE_LINK_LAUNCH = "LtiResourceLinkRequest"

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
ROLES_CLAIM = CLAIM + "roles"
DEPLOYMENT_CLAIM = CLAIM + "deployment_id"
MESSAGE_TYPE_CLAIM = CLAIM + "message_type"
CONTEXT_CLAIM = CLAIM + "context"
RESOURCE_LINK_CLAIM = CLAIM + "resource_link"
LIS_CLAIM = CLAIM + "lis"

# What pylti1p3 raises for what a malformed, forged, misdirected or stale message gets wrong,
# besides its own LtiException: it reads claims with `.get` on whatever the token decoded to.
MALFORMED = (LtiException, OIDCException, AttributeError, TypeError, KeyError, ValueError)

AGAIN = "Open Stride from your course page again."


@dataclass(frozen=True, slots=True)
class VerifiedLaunch:
    """The claims of an id_token that passed every check, as plain values (never too long)."""

    platform_id: int
    deployment_id: str
    nonce: str
    sub: str
    message_type: str
    roles: tuple[str, ...]
    is_instructor: bool
    email: str
    given_name: str
    family_name: str
    name: str
    person_sourcedid: str
    context_id: str
    context_label: str
    context_title: str
    resource_link_id: str


class _PlatformToolConf(ToolConfAbstract):
    """pylti1p3's view of the active `LtiPlatform` rows; remembers the platform it found.

    With `with_keys`, the registration carries the platform's key set (cached, or fetched anew
    with `refresh_keys`), so that pylti1p3 never fetches it itself (without a timeout).
    """

    def __init__(self, *, with_keys: bool = False, refresh_keys: bool = False) -> None:
        super().__init__()
        self.with_keys = with_keys
        self.refresh_keys = refresh_keys
        self.keys_were_cached = False
        self.platform: LtiPlatform | None = None
        self.asked: tuple[str, str | None] | None = None

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Any:
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(
        self, iss: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> Any:
        self.asked = (str(iss), None if client_id is None else str(client_id))
        platforms = LtiPlatform.objects.filter(issuer=iss, is_active=True)
        if client_id:  # a login initiation may leave it out: then the issuer must be unique
            platforms = platforms.filter(client_id=client_id)
        found = list(platforms[:2])
        if len(found) != 1:
            return None
        self.platform = found[0]
        return self._registration(self.platform)

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str | None, *args: Any, **kwargs: Any
    ) -> Deployment | None:
        if self.platform is None or not isinstance(deployment_id, str):
            return None
        if not self.platform.deployments.filter(deployment_id=deployment_id).exists():
            return None
        return Deployment().set_deployment_id(deployment_id)

    def _registration(self, platform: LtiPlatform) -> Registration:
        registration = (
            Registration()
            .set_issuer(platform.issuer)
            .set_client_id(platform.client_id)
            .set_auth_login_url(platform.auth_login_url)
            .set_auth_token_url(platform.access_token_url)
            .set_key_set_url(platform.keyset_url)
        )
        if platform.audience:
            registration.set_auth_audience(platform.audience)
        key = lti_tool_key_signing()
        if key is not None:  # signs what Stride sends to the platform (services, later)
            registration.set_tool_private_key(key.private_key).set_tool_public_key(key.public_key)
        if self.with_keys:
            key_set, self.keys_were_cached = platform_key_set(platform, refresh=self.refresh_keys)
            registration.set_key_set(key_set)
        return registration


def platform_key_set(platform: LtiPlatform, *, refresh: bool = False) -> tuple[dict, bool]:
    """The platform's public key set (JWKS) and whether it came from the cache.

    Fetched with a timeout (STRIDE_LTI_HTTP_TIMEOUT) and cached for
    STRIDE_LTI_JWKS_CACHE_SECONDS; a platform that does not answer, or answers something else
    than a key set, refuses the launch with a 502.
    """
    url = platform.keyset_url
    cache_key = f"lti:jwks:{platform.pk}:{hashlib.sha256(url.encode()).hexdigest()[:16]}"
    if not refresh:
        cached = cache.get(cache_key)
        if cached is not None:
            return cached, True
    unreachable = "Stride could not check this launch with your learning platform just now."
    try:
        response = requests.get(
            url,
            timeout=settings.STRIDE_LTI_HTTP_TIMEOUT,
            headers={"Accept": "application/json"},
        )
        response.raise_for_status()
        key_set = response.json()
    except (requests.RequestException, ValueError) as exc:
        logger.warning("LTI key set of platform %s not fetched: %s", platform.pk, exc)
        raise SignInRefused(
            f"{unreachable} Try again in a minute.",
            detail=f"Fetching the key set {url} failed: {exc}",
            status=502,
        ) from exc
    if not isinstance(key_set, dict) or not isinstance(key_set.get("keys"), list):
        raise SignInRefused(
            f"{unreachable} Try again in a minute.",
            detail=f"{url} did not answer a JSON Web Key Set ({{'keys': [...]}}).",
            status=502,
        )
    cache.set(cache_key, key_set, settings.STRIDE_LTI_JWKS_CACHE_SECONDS)
    return key_set, False


def login_redirect(request: HttpRequest, *, launch_url: str) -> HttpResponse:
    """Answer a platform's third-party login initiation (GET or POST): redirect the browser to
    the platform's auth URL with a fresh state and nonce, to come back to `launch_url`."""
    tool_conf = _PlatformToolConf()
    try:
        login = DjangoOIDCLogin(request, tool_conf)
        # The cache rather than the session: the session cookie may not survive the
        # platform's cross-site form post; the state cookie pylti1p3 sets for it does.
        login.set_launch_data_storage(DjangoCacheDataStorage())
        login.set_launch_data_lifetime(LOGIN_WINDOW_SECONDS)
        # pylti1p3's "cookies allowed?" check is an inline script, which our CSP refuses.
        return login.disable_check_cookies().redirect(launch_url)
    except MALFORMED as exc:
        raise _refusal(str(exc), tool_conf) from exc


def launch_verify(request: HttpRequest) -> VerifiedLaunch:
    """Verify the launch the platform posted (`id_token`, `state`); its claims, or a
    `SignInRefused` saying what was wrong. Spends nothing: replays are the caller's to stop."""
    for refresh in (False, True):
        tool_conf = _PlatformToolConf(with_keys=True, refresh_keys=refresh)
        try:
            message = DjangoMessageLaunch(
                request, tool_conf, launch_data_storage=DjangoCacheDataStorage()
            )
            message.set_launch_data_lifetime(LOGIN_WINDOW_SECONDS)
            # OpenID Connect requires both; PyJWT checks them only when present.
            message.set_jwt_verify_options({"verify_aud": False, "require": ["exp", "iat"]})
            message.validate()
            body = message.get_launch_data()
        except MALFORMED as exc:
            if str(exc) == "Unable to find public key" and tool_conf.keys_were_cached:
                continue  # signed with a key newer than our cached set: fetch it once more
            raise _refusal(str(exc), tool_conf) from exc
        break
    assert tool_conf.platform is not None  # validate() found the registration
    return _verified(body, tool_conf.platform)


def _verified(body: dict[str, Any], platform: LtiPlatform) -> VerifiedLaunch:
    aud = body.get("aud")
    azp = body.get("azp")
    if (isinstance(aud, list) and len(aud) > 1 and azp is None) or (
        azp is not None and azp != platform.client_id
    ):
        raise SignInRefused(
            "This launch was not meant for Stride.",
            detail=f"The id_token's authorized party (azp) must be the client id "
            f"{platform.client_id!r}; it is {azp!r}.",
            status=403,
        )
    message_type = body.get(MESSAGE_TYPE_CLAIM)
    if message_type != RESOURCE_LINK_LAUNCH:
        raise SignInRefused(
            "Stride opens learners' pages only; this kind of launch is not supported.",
            detail=f"Message type {message_type!r}; only {RESOURCE_LINK_LAUNCH} is accepted.",
        )
    sub = body.get("sub")
    nonce = body.get("nonce")
    if not (isinstance(sub, str) and 0 < len(sub) <= 255) or not (
        isinstance(nonce, str) and len(nonce) <= 255
    ):
        raise SignInRefused(
            "The learning platform's launch message is malformed.",
            detail="sub and nonce must be strings of at most 255 characters (LTI 1.3, 5.3.6).",
        )
    raw_roles = body.get(ROLES_CLAIM)
    raw_roles = raw_roles if isinstance(raw_roles, list) else []
    roles = tuple(role[:255] for role in raw_roles if isinstance(role, str))[:50]
    context = _mapping(body.get(CONTEXT_CLAIM))
    return VerifiedLaunch(
        platform_id=platform.pk,
        deployment_id=str(body.get(DEPLOYMENT_CLAIM)),
        nonce=nonce,
        sub=sub,
        message_type=message_type,
        roles=roles,
        is_instructor=TeacherRole({ROLES_CLAIM: list(roles)}).check(),
        email=_text(body.get("email"), 254),
        given_name=_text(body.get("given_name"), 150),
        family_name=_text(body.get("family_name"), 150),
        name=_text(body.get("name"), 150),
        person_sourcedid=_text(_mapping(body.get(LIS_CLAIM)).get("person_sourcedid"), 128),
        context_id=_text(context.get("id"), 255),
        context_label=_text(context.get("label"), 255),
        context_title=_text(context.get("title"), 500),
        resource_link_id=_text(_mapping(body.get(RESOURCE_LINK_CLAIM)).get("id"), 255),
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any, max_length: int) -> str:
    return value.strip()[:max_length] if isinstance(value, str) else ""


def _refusal(message: str, tool_conf: _PlatformToolConf) -> SignInRefused:
    """The page-worthy refusal for what pylti1p3 said (its exception's text)."""
    issuer, client_id = tool_conf.asked or ("?", None)
    client = f" and client id {client_id!r}" if client_id else ""
    platform = tool_conf.platform
    logger.info("LTI sign-in refused (platform %s): %s", platform and platform.pk, message)
    if message in {"Registration not found.", "Could not find registration details"}:
        return SignInRefused(
            "This learning platform is not registered with Stride, or this launch was not "
            "meant for Stride.",
            detail=f"No active LTI platform has issuer {issuer!r}{client}. Staff register "
            "platforms in the admin (LTI platforms).",
            status=403,
        )
    if message == "Unable to find deployment":
        return SignInRefused(
            "Stride is not set up for this part of your learning platform yet.",
            detail=f"The launch's deployment id is not registered for the platform "
            f"{platform}. Staff add it to the platform's deployments in the admin.",
            status=403,
        )
    if message == "State not found" or message.startswith("Missing %s cookie"):
        return SignInRefused(
            f"This launch did not start in this browser, or took too long. {AGAIN}",
            detail="The state does not match this browser's LTI state cookie. If Stride opens "
            "inside the course page, the browser may block its cookies there: set the tool "
            "to open in a new window.",
        )
    if message in {'"nonce" is empty', "Invalid Nonce"}:
        return SignInRefused(
            f"This launch has expired or was not started from here. {AGAIN}",
            detail="The id_token's nonce is not one Stride issued in the last "
            f"{LOGIN_WINDOW_SECONDS // 60} minutes.",
        )
    if "Signature has expired" in message:
        return SignInRefused(f"This launch has expired. {AGAIN}", detail=message)
    if message.startswith("Can't decode id_token") or message in {
        "Unable to find public key",
        "JWT KID not found",
        "JWT ALG not found",
        "Can't convert JWT key to PEM format",
    }:
        return SignInRefused(
            "This launch could not be verified: its signature does not match your learning "
            "platform's keys.",
            detail=message,
        )
    if message.startswith("Could not find"):  # issuer or login hint of a login initiation
        return SignInRefused(
            "The learning platform's sign-in request is incomplete.", detail=message
        )
    return SignInRefused("The learning platform's launch message is not valid.", detail=message)
