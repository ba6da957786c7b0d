"""Writes of LTI 1.3: accepting a verified launch (its learner, matched or created) and the
tool's own key pairs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from jwcrypto.jwk import JWK

from accounts.errors import SignInRefused
from accounts.lti import VerifiedLaunch
from accounts.models import LtiIdentity, LtiLaunch, LtiPlatform, LtiToolKey, User
from accounts.records import LtiLaunchRecord
from accounts.selectors import lti_tool_key_signing
from accounts.services.people import users_ensure_provisional

EXTERNAL_ID_MAX = User._meta.get_field("external_id").max_length


@transaction.atomic
def lti_launch_accept(*, launch: VerifiedLaunch) -> User:
    """Spend the launch's nonce, find or create its learner and record the launch; return the
    user to sign in.

    The learner is the one this platform's `sub` was matched to before; on a first launch, the
    user with the external id the platform's `user_match` derives (a synced user), else a new
    provisional one with the launch's name, email and role (instructor when the LTI roles say
    Instructor, never staff). While a user is provisional, launches keep their details up to
    date. Refuses (SignInRefused, nothing written) a launch posted before, and any account a
    launch must never open: staff, admins, deactivated users. Then calls each handler named in
    STRIDE_LTI_LAUNCH_HANDLERS with the launch, in this transaction.
    """
    platform = LtiPlatform.objects.get(pk=launch.platform_id)
    now = timezone.now()
    user = _learner(platform, launch, now)
    if user.is_staff_account:
        raise SignInRefused(
            "A launch from a learning platform never opens a staff account; staff sign in "
            "with their password.",
            detail=f"The platform's user {launch.sub!r} is matched to a staff account "
            f"(external id {user.external_id!r}).",
            status=403,
        )
    if not user.is_active:
        raise SignInRefused(
            "This Stride account is deactivated; ask your course's administrator.", status=403
        )
    try:
        with transaction.atomic():
            record = LtiLaunch.objects.create(
                platform=platform,
                user=user,
                deployment_id=launch.deployment_id,
                nonce=launch.nonce,
                message_type=launch.message_type,
                roles=list(launch.roles),
                context_id=launch.context_id,
                context_label=launch.context_label,
                context_title=launch.context_title,
                resource_link_id=launch.resource_link_id,
                launched_at=now,
            )
    except IntegrityError as exc:
        raise SignInRefused(
            "This launch was already used. Open Stride from your course page again.",
            detail="An id_token's nonce is accepted once; this one was posted before.",
        ) from exc
    for handler in _handlers(tuple(settings.STRIDE_LTI_LAUNCH_HANDLERS)):
        handler(
            LtiLaunchRecord(
                launch_id=record.pk,
                user_id=user.pk,
                platform_id=platform.pk,
                issuer=platform.issuer,
                deployment_id=record.deployment_id,
                context_id=record.context_id,
                context_label=record.context_label,
                context_title=record.context_title,
                resource_link_id=record.resource_link_id,
                roles=launch.roles,
                is_instructor=launch.is_instructor,
                launched_at=now,
            )
        )
    return user


@lru_cache(maxsize=8)
def _handlers(paths: tuple[str, ...]) -> list[Callable[[LtiLaunchRecord], Any]]:
    return [import_string(path) for path in paths]


def lti_external_id(*, platform: LtiPlatform, launch: VerifiedLaunch) -> str:
    """The external id a first launch looks for (and gives a new user), by the platform's rule.

    `sub` and `person_sourcedid` use the platform's own id when it fits an external id;
    otherwise, and for `derived`, `lti:<platform id>:<sub>` (a hash of a very long sub).
    """
    if platform.user_match == LtiPlatform.UserMatch.SUB and len(launch.sub) <= EXTERNAL_ID_MAX:
        return launch.sub
    if platform.user_match == LtiPlatform.UserMatch.PERSON_SOURCEDID and launch.person_sourcedid:
        return launch.person_sourcedid
    derived = f"lti:{platform.pk}:{launch.sub}"
    if len(derived) <= EXTERNAL_ID_MAX:
        return derived
    return f"lti:{platform.pk}:sha256:{hashlib.sha256(launch.sub.encode()).hexdigest()}"


def _learner(platform: LtiPlatform, launch: VerifiedLaunch, now: datetime) -> User:
    identity = (
        LtiIdentity.objects.select_related("user").filter(platform=platform, sub=launch.sub).first()
    )
    if identity is None:
        external_id = lti_external_id(platform=platform, launch=launch)
        user_id = users_ensure_provisional(external_ids=[external_id])[external_id]
        # A concurrent first launch of the same learner may have linked them already.
        LtiIdentity.objects.bulk_create(
            [LtiIdentity(platform=platform, sub=launch.sub, user_id=user_id, last_launch_at=now)],
            ignore_conflicts=True,
        )
        identity = LtiIdentity.objects.select_related("user").get(platform=platform, sub=launch.sub)
    else:
        LtiIdentity.objects.filter(pk=identity.pk).update(last_launch_at=now)
    user = identity.user
    if user.provisional:
        _fill_in(user, launch)
    return user


def _fill_in(user: User, launch: VerifiedLaunch) -> None:
    """Give a provisional user what the launch tells of them; synced users keep their details."""
    changes: dict[str, Any] = {}
    first, last = launch.given_name, launch.family_name
    if not (first or last) and launch.name:
        first, _, last = launch.name.partition(" ")
    if first or last:
        changes.update(first_name=first[:150], last_name=last[:150])
    if launch.is_instructor and user.role == User.Role.STUDENT:
        changes["role"] = User.Role.INSTRUCTOR  # only ever up to instructor, never to staff
    changes = {field: value for field, value in changes.items() if getattr(user, field) != value}
    if changes:
        User.objects.filter(pk=user.pk).update(**changes, updated_at=timezone.now())
        for field, value in changes.items():
            setattr(user, field, value)
    email = launch.email.lower()
    if not email or email == user.email:
        return
    try:
        validate_email(email)
    except ValidationError:
        return
    if User.objects.filter(email=email).exists():
        return  # someone else's address: never matched on, never taken over
    try:
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(email=email)
    except IntegrityError:  # taken meanwhile by a concurrent sync or launch
        return
    user.email = email


def lti_tool_key_create() -> LtiToolKey:
    """Generate a new RSA key pair for Stride's tool; it is published and signs from now on.

    Earlier keys stay published (platforms may have cached them) until retired.
    """
    jwk = JWK.generate(kty="RSA", size=2048)
    kid = jwk.thumbprint()
    return LtiToolKey.objects.create(
        kid=kid,
        public_key=jwk.export_to_pem().decode(),
        private_key=jwk.export_to_pem(private_key=True, password=None).decode(),
    )


def lti_tool_key_ensure() -> tuple[LtiToolKey, bool]:
    """The tool's current key, generating the first one if there is none; and whether it did."""
    key = lti_tool_key_signing()
    if key is not None:
        return key, False
    return lti_tool_key_create(), True


def lti_tool_key_retire(*, key: LtiToolKey) -> LtiToolKey:
    """Stop publishing and using a key (after a rotation, once platforms have the new one)."""
    if key.retired_at is None:
        key.retired_at = timezone.now()
        key.save(update_fields=["retired_at"])
    return key
