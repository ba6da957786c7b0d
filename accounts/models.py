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
        INTERVENTIONS_WRITE = "interventions:write", "Send and schedule interventions"

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
