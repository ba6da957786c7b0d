"""Factories for people and integrator keys, for every app's tests.

Users are made the way `createsuperuser` and the admin make them (the manager's `create_user`,
which hashes the password); API keys through `api_key_create`, as staff make them.
"""

from __future__ import annotations

from typing import Any

import factory

from accounts.models import ApiKey, User
from accounts.services import api_key_create

LEARNER_PASSWORD = "pw-learner-1234"


class UserFactory(factory.django.DjangoModelFactory):
    """A student with a unique email and external id (as an integrator's sync gives them)."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"learner{n}@example.com")
    external_id = factory.Sequence(lambda n: f"learner-{n}")
    role = User.Role.STUDENT
    timezone = "UTC"
    password = LEARNER_PASSWORD

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        return model_class.objects.create_user(*args, **kwargs)


class InstructorFactory(UserFactory):
    """An instructor: synced like students, and named as a course's instructor."""

    email = factory.Sequence(lambda n: f"instructor{n}@example.com")
    external_id = factory.Sequence(lambda n: f"instructor-{n}")
    role = User.Role.INSTRUCTOR


class AdminFactory(UserFactory):
    """Staff who sign in to the dashboards and the admin; never synced, so no external id."""

    email = factory.Sequence(lambda n: f"staff{n}@example.com")
    external_id = None
    role = User.Role.ADMIN
    is_staff = True
    password = "pw-staff-1234"


class ApiKeyFactory(factory.Factory):
    """An integrator key made by `api_key_create`; its one-time secret is on `.raw_key`."""

    class Meta:
        model = ApiKey

    name = "integration"
    scopes = factory.LazyFunction(lambda: ["*"])
    source = ""
    created_by = None

    @classmethod
    def _create(cls, model_class: type[ApiKey], **kwargs: Any) -> ApiKey:
        key, raw = api_key_create(**kwargs)
        key.raw_key = raw
        return key
