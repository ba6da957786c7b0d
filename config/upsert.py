"""Bulk upsert by natural key, the one write path behind every integrator sync endpoint."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import models


@dataclass(frozen=True)
class UpsertResult:
    """What an upsert did: how many rows it created and updated, and the rows themselves."""

    created: int
    updated: int
    objects: list[Any]


def upsert_rows(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    existing_keys: set[tuple[Any, ...]],
    batch_size: int = 1000,
) -> UpsertResult:
    """Insert or update `rows` in one statement per batch (INSERT ... ON CONFLICT DO UPDATE).

    `existing_keys` holds the natural keys that existed before, so that the result can say
    how many rows were created; the database, not this count, decides what is written.
    """
    objects = [model(**row) for row in rows]
    model.objects.bulk_create(
        objects,
        batch_size=batch_size,
        update_conflicts=True,
        unique_fields=list(unique_fields),
        update_fields=list(update_fields),
    )
    updated = sum(
        1 for row in rows if tuple(_key(row, field) for field in unique_fields) in existing_keys
    )
    return UpsertResult(created=len(rows) - updated, updated=updated, objects=objects)


def _key(row: dict[str, Any], field: str) -> Any:
    value = row.get(field, row.get(f"{field}_id"))
    return getattr(value, "pk", value)
