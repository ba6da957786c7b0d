"""Admin base pieces every app may use: read-only admins and a paginator for huge tables."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property


class EstimatedCountPaginator(Paginator):
    """A paginator that never runs an unbounded COUNT(*) over a huge table.

    An unfiltered list uses PostgreSQL's row estimate once the table is big; a filtered one
    counts at most `count_cap` + 1 rows, so pages past the cap are not offered.
    """

    COUNT_CAP = 10_000

    def __init__(self, *args: Any, count_cap: int = COUNT_CAP, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.count_cap = count_cap

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not isinstance(queryset, QuerySet):
            return len(queryset)
        if connection.vendor == "postgresql" and not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > self.count_cap:
                return int(row[0])
        return queryset.order_by()[: self.count_cap + 1].count()


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services only: staff look, never add, change or delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
