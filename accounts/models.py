"""People and integrator credentials."""

import zoneinfo

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


def validate_timezone(value: str) -> None:
    """Accept only IANA timezone names such as "Europe/Berlin"."""
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            f"'{value}' is not a known IANA timezone (e.g. 'Europe/Berlin').", code="invalid"
        )


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> "User":
        if not email:
            raise ValueError("Users need an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.update(is_staff=True, is_superuser=True, role=User.Role.ADMIN)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person: student, instructor or admin; logs in with email."""

    class Role(models.TextChoices):
        STUDENT = "student", "Student"
        INSTRUCTOR = "instructor", "Instructor"
        ADMIN = "admin", "Admin"

    username = None
    email = models.EmailField("email address", unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STUDENT)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    external_id = models.CharField(
        max_length=128,
        unique=True,
        null=True,
        blank=True,
        help_text="The integrator's id for this person.",
    )
    provisional = models.BooleanField(
        default=False,
        help_text="Created on first sight in an event; details not yet synced.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["role"])]

    def __str__(self) -> str:
        return self.email

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def is_staff_account(self) -> bool:
        """Staff, superuser or admin: an account that only its password opens, never a
        one-time sign-in link or an LTI launch."""
        return self.is_staff or self.is_superuser or self.role == self.Role.ADMIN


class ApiKey(models.Model):
    """An integrator credential. The key itself is shown once; only its SHA-256 is stored."""

    class Scope(models.TextChoices):
        ALL = "*", "Everything"
        USERS_READ = "users:read", "Read users"
        USERS_WRITE = "users:write", "Create and update users"
        COURSES_READ = "courses:read", "Read courses, lessons and enrollments"
        COURSES_WRITE = "courses:write", "Create and update courses, lessons and enrollments"
        EVENTS_WRITE = "events:write", "Send behaviour events"
        SCORES_READ = "scores:read", "Read engagement scores and at-risk learners"
        ALERTS_WRITE = "alerts:write", "Acknowledge and resolve alerts"
        GAMIFICATION_READ = "gamification:read", "Read XP, levels and leaderboards"
        GAMIFICATION_WRITE = "gamification:write", "Award XP and achievements"
        INTERVENTIONS_READ = "interventions:read", "Read intervention statistics"
        INTERVENTIONS_WRITE = "interventions:write", "Send and schedule interventions"
        CAMPAIGNS_READ = "campaigns:read", "Read campaigns, their runs and segments"
        CAMPAIGNS_WRITE = "campaigns:write", "Create, edit, activate and pause campaigns"
        EXPERIMENTS_READ = "experiments:read", "Read experiments, assignments and results"
        EXPERIMENTS_WRITE = "experiments:write", "Create, start and stop experiments"
        USERS_SIGN_IN = "users:sign_in", "Request one-time sign-in links for students"
        ANALYTICS_READ = "analytics:read", "Read analytics: daily aggregates, funnels, cohorts"

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    source = models.SlugField(
        max_length=64,
        help_text="Namespace for idempotency keys of events sent with this key.",
    )
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        """True when the key grants `scope`; `*` grants every scope and a write implies read."""
        if "*" in self.scopes or scope in self.scopes:
            return True
        resource, _, action = scope.partition(":")
        return action == "read" and f"{resource}:write" in self.scopes


class ThrottleCounter(models.Model):
    """Requests counted in the current window of one throttle key (accounts.throttling).

    Used when the cache is the database cache, whose `incr` is a read and a write that
    concurrent requests interleave; one UPDATE of this row counts atomically instead.
    """

    key = models.CharField(max_length=255, primary_key=True)
    window_started = models.FloatField(help_text="Unix time at which the current window began.")
    hits = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}: {self.hits}"


class LtiPlatform(models.Model):
    """A learning platform (Moodle, Canvas, Open edX, Blackboard) whose LTI 1.3 launches sign
    its learners in to Stride; registered by staff with what the platform's tool page shows."""

    class UserMatch(models.TextChoices):
        DERIVED = "derived", "Stride's own external id: lti:<platform>:<user id>"
        SUB = "sub", "The platform's user id (sub) is the integrator's external id"
        PERSON_SOURCEDID = (
            "person_sourcedid",
            "The LIS person sourcedId (SIS id) is the integrator's external id",
        )

    name = models.CharField(max_length=100)
    issuer = models.CharField(
        max_length=255, help_text="The platform's issuer (iss), e.g. https://moodle.example.edu"
    )
    client_id = models.CharField(
        max_length=255, help_text="The client id the platform gave Stride's tool."
    )
    auth_login_url = models.URLField(
        "auth login URL", max_length=500, help_text="The platform's OIDC authentication URL."
    )
    access_token_url = models.URLField(
        "access token URL", max_length=500, help_text="The platform's OAuth 2 token URL."
    )
    keyset_url = models.URLField(
        "keyset URL", max_length=500, help_text="The platform's public keys (JWKS) URL."
    )
    audience = models.CharField(
        max_length=255,
        blank=True,
        help_text="Audience of tokens for the token URL, if the platform wants one.",
    )
    user_match = models.CharField(
        max_length=32,
        choices=UserMatch.choices,
        default=UserMatch.DERIVED,
        help_text=(
            "How a learner met for the first time is matched to a Stride user: pick the "
            "platform's own id when your integration syncs users by it, so that launches and "
            "synced activity meet in one account."
        ),
    )
    is_active = models.BooleanField(default=True, help_text="Refuse its launches when off.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "LTI platform"
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "client_id"], name="lti_platform_unique_issuer_client"
            )
        ]

    def __str__(self) -> str:
        return self.name


class LtiDeployment(models.Model):
    """A deployment id of a platform: launches naming any other deployment are refused."""

    platform = models.ForeignKey(LtiPlatform, on_delete=models.CASCADE, related_name="deployments")
    deployment_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["platform_id", "deployment_id"]
        verbose_name = "LTI deployment"
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "deployment_id"], name="lti_deployment_unique_per_platform"
            )
        ]

    def __str__(self) -> str:
        return f"{self.platform}: {self.deployment_id}"


class LtiToolKey(models.Model):
    """A key pair of Stride's tool; the public halves of unretired keys are served as the
    tool's JWKS, and the newest signs what the tool sends to platforms."""

    kid = models.CharField("key id", max_length=64, unique=True, editable=False)
    public_key = models.TextField(editable=False, help_text="PEM.")
    private_key = models.TextField(editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="No longer published or used."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "LTI tool key"

    def __str__(self) -> str:
        return self.kid


class LtiIdentity(models.Model):
    """Who a platform's user (its `sub`) is in Stride: the match made at their first launch."""

    platform = models.ForeignKey(LtiPlatform, on_delete=models.CASCADE, related_name="identities")
    sub = models.CharField("platform user id", max_length=255)
    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="lti_identities"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_launch_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["platform_id", "sub"]
        verbose_name = "LTI identity"
        verbose_name_plural = "LTI identities"
        constraints = [
            models.UniqueConstraint(fields=["platform", "sub"], name="lti_identity_unique_sub")
        ]

    def __str__(self) -> str:
        return f"{self.platform}: {self.sub}"


class LtiLaunch(models.Model):
    """One accepted launch, with the course context it came from.

    Its nonce is unique per platform: the same id_token posted again is refused.
    """

    platform = models.ForeignKey(LtiPlatform, on_delete=models.CASCADE, related_name="launches")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="lti_launches")
    deployment_id = models.CharField(max_length=255)
    nonce = models.CharField(max_length=255)
    message_type = models.CharField(max_length=64)
    roles = models.JSONField(default=list)
    context_id = models.CharField(max_length=255, blank=True)
    context_label = models.CharField(max_length=255, blank=True)
    context_title = models.CharField(max_length=500, blank=True)
    resource_link_id = models.CharField(max_length=255, blank=True)
    launched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-launched_at", "-id"]
        verbose_name = "LTI launch"
        constraints = [
            models.UniqueConstraint(fields=["platform", "nonce"], name="lti_launch_unique_nonce")
        ]
        indexes = [models.Index(fields=["platform", "context_id"])]

    def __str__(self) -> str:
        return f"{self.user} from {self.platform} at {self.launched_at:%Y-%m-%d %H:%M}"


class SignInLink(models.Model):
    """A one-time sign-in link for a student; only the SHA-256 of its token is stored.

    It works once, before `expires_at`: redeeming sets `used_at` in one conditional UPDATE, so
    of two concurrent redemptions only one finds it unused.
    """

    user = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="sign_in_links"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    next_path = models.CharField(
        max_length=500, blank=True, help_text="Where the student lands; empty for their home."
    )
    requested_by = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "sign-in link"

    def __str__(self) -> str:
        return f"sign-in link for {self.user} ({self.created_at:%Y-%m-%d %H:%M})"
