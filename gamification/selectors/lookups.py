"""`AnyOf`: "column is one of these ids" in one query parameter, for batches of thousands.

Django writes ``IN (%s, %s, ...)`` with a parameter per value; for the 5,000 learners of an
import batch, building and parsing such a query costs more than running it. On PostgreSQL
``column = ANY(%s)`` sends the values as one array; other databases get the usual IN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import F, Lookup
from django.db.models.lookups import In


class AnyOf(Lookup):
    """Use in filter(): ``.filter(AnyOf(F("user_id"), ids))`` (or `any_of("user_id", ids)`)."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        if connection.vendor != "postgresql":
            return In(self.lhs, list(self.rhs)).as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", [*lhs_params, list(self.rhs)]


def any_of(field: str, values: Iterable[Any]) -> AnyOf:
    """`field` is one of `values` (a filter() argument)."""
    return AnyOf(F(field), list(values))
