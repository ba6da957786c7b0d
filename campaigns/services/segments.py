"""Saved audiences: a name, a slug and a filter in the campaigns filter language. Stride's own
segments (all learners, at risk, inactive 7 / 30 days, ...) are predefined and cannot change;
a segment a campaign uses cannot be deleted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils.text import slugify

from accounts.models import User
from campaigns.defaults import PREDEFINED_SEGMENTS
from campaigns.filters import filter_validate
from campaigns.models import Segment
from core.errors import DomainValidationError


def _text(spec: Mapping[str, Any], key: str, limit: int, *, required: bool) -> str | None:
    if key not in spec:
        if required:
            raise DomainValidationError({key: "This field is required."})
        return None
    value = spec[key]
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise DomainValidationError({key: f"Give text of {int(required)} to {limit} characters."})
    return value.strip()


def _filter(spec: Mapping[str, Any], *, required: bool) -> Any:
    if "filter" not in spec:
        if required:
            raise DomainValidationError({"filter": "This field is required."})
        return None
    try:
        filter_validate(spec["filter"])
    except DomainValidationError as error:
        raise DomainValidationError(
            {
                key if key == "filter" or key.startswith("filter.") else f"filter.{key}": value
                for key, value in error.fields.items()
            }
        ) from error
    return spec["filter"] or {}  # null and {} both mean every learner


def _slug(value: Any, *, exclude: int | None = None) -> str:
    if not isinstance(value, str) or not value or slugify(value) != value or len(value) > 80:
        raise DomainValidationError(
            {"slug": "Lower-case letters, digits and hyphens, at most 80 characters."}
        )
    taken = Segment.objects.filter(slug=value)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise DomainValidationError({"slug": f"A segment is already called {value!r}."})
    return value


@transaction.atomic
def segment_create(*, spec: Mapping[str, Any], actor: User | None) -> Segment:
    """A segment from `spec`: `name`, `filter`, optional `slug` (from the name when absent)
    and `description`."""
    if not isinstance(spec, Mapping):
        raise DomainValidationError("Give the segment as an object.")
    name = _text(spec, "name", 120, required=True)
    description = _text(spec, "description", 300, required=False) or ""
    filter_ = _filter(spec, required=True)
    slug = _slug(spec["slug"] if "slug" in spec else slugify(name)[:80] or "segment")
    return Segment.objects.create(
        name=name, slug=slug, description=description, filter=filter_, created_by=actor
    )


SAVED_COPIES = 99  # segments of one name before a save gives up


def segment_save_once(
    *,
    name: str,
    filter_: Any,
    description: str,
    actor: User | None,
    default_slug: str,
    error_field: str,
) -> Segment:
    """The segment `name` with `filter_`: the one saved before under its slug (or `-2`,
    `-3`...) when its filter is the same, else a new one under the first free slug; the
    taken slugs are read in one query. Raises DomainValidationError on `error_field` after
    SAVED_COPIES segments of that name with other filters."""
    base = slugify(name)[:72] or default_slug
    slugs = [base, *(f"{base}-{n}" for n in range(2, SAVED_COPIES + 1))]
    taken = {segment.slug: segment for segment in Segment.objects.filter(slug__in=slugs)}
    for slug in slugs:
        existing = taken.get(slug)
        if existing is None:
            spec = {"name": name, "slug": slug, "filter": filter_, "description": description}
            return segment_create(spec=spec, actor=actor)
        if existing.filter == filter_:
            return existing
    raise DomainValidationError({error_field: "Too many segments of this cohort already."})


@transaction.atomic
def segment_update(*, segment: Segment, spec: Mapping[str, Any]) -> Segment:
    """Change the fields `spec` gives; a predefined segment cannot change. Campaigns using
    the segment target the new filter from their next run."""
    segment = Segment.objects.select_for_update().get(pk=segment.pk)
    if segment.is_predefined:
        raise DomainValidationError(
            {"segment": "Stride's own segments cannot change; save a copy instead."},
            code="conflict",
        )
    if not isinstance(spec, Mapping):
        raise DomainValidationError("Give the segment as an object.")
    if (name := _text(spec, "name", 120, required=False)) is not None:
        if not name:
            raise DomainValidationError({"name": "Give text of 1 to 120 characters."})
        segment.name = name
    if (description := _text(spec, "description", 300, required=False)) is not None:
        segment.description = description
    if "slug" in spec:
        segment.slug = _slug(spec["slug"], exclude=segment.pk)
    if "filter" in spec:
        segment.filter = _filter(spec, required=True)
    segment.save()
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment) -> None:
    """Delete a segment no campaign uses; a predefined one stays."""
    if segment.is_predefined:
        raise DomainValidationError(
            {"segment": "Stride's own segments cannot be deleted."}, code="conflict"
        )
    used = list(segment.campaigns.values_list("name", flat=True)[:3])
    if used:
        raise DomainValidationError(
            {"segment": "Campaigns use it: " + ", ".join(used) + "."}, code="conflict"
        )
    segment.delete()


def segments_predefined_install() -> int:
    """Make sure Stride's own segments exist as defined (idempotent); how many were missing."""
    made = 0
    for slug, name, description, filter_ in PREDEFINED_SEGMENTS:
        _, created = Segment.objects.update_or_create(
            slug=slug,
            defaults={
                "name": name,
                "description": description,
                "filter": filter_,
                "is_predefined": True,
            },
        )
        made += created
    return made
