"""Sortable columns for the list pages (issue 14). A list names the columns people may sort by,
each a key of the query string (`?sort=name`, `?sort=-name` for descending) mapped to the fields
it orders by; anything else in `?sort=` is ignored and the list keeps its default order, so a
hand-edited or stale link never answers 500 nor orders by a field nobody meant to expose.

    SORTS = SortableColumns({"name": ("head_name",), "village": ("village__code",)}, default="village")
    sorting = SORTS.read(request.GET)
    qs = SORTS.apply(qs, sorting)

The header is `{% load sorting_tags %}{% sort_th sorting "name" _("name") %}` (templates/includes/
sort_th.html): a link that sorts by the column, or turns its direction round when it already
does, keeping the other query parameters and going back to page 1."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.db.models import F, QuerySet

SORT_PARAM = "sort"


@dataclass(frozen=True)
class Sorting:
    """What a list is sorted by: a whitelisted key and its direction."""

    key: str
    descending: bool = False

    @property
    def param(self) -> str:
        return f"-{self.key}" if self.descending else self.key

    def direction(self, key: str) -> str:
        """The direction ("asc" or "desc") when the list is sorted by `key`, else ""."""
        if key != self.key:
            return ""
        return "desc" if self.descending else "asc"

    def toggled(self, key: str) -> str:
        """The `?sort=` value a click on `key`'s header asks for: the other direction when the
        list is sorted by it already, else ascending."""
        if key == self.key and not self.descending:
            return f"-{key}"
        return key


class SortableColumns:
    """The sort keys a list accepts, each mapped to the fields it orders by (ascending; a leading
    "-" on a field reverses that field within the key). The primary key is always the last field,
    so rows that tie keep one order from page to page."""

    def __init__(self, columns: Mapping[str, tuple[str, ...]], *, default: str):
        if self._parse(default).key not in columns:
            raise ValueError(f"the default sort {default!r} is not one of the columns")
        self.columns = dict(columns)
        self.default = self._parse(default)

    @staticmethod
    def _parse(value: str) -> Sorting:
        descending = value.startswith("-")
        return Sorting(key=value[1:] if descending else value, descending=descending)

    def read(self, params, name: str = SORT_PARAM) -> Sorting:
        """The sorting asked for in `params` (request.GET), or the default when the key is missing
        or unknown."""
        value = (params.get(name) or "").strip()
        sorting = self._parse(value)
        if sorting.key not in self.columns:
            return self.default
        return sorting

    def order_by(self, sorting: Sorting) -> list:
        fields = []
        for field in self.columns[sorting.key]:
            descending = field.startswith("-") != sorting.descending
            expression = F(field.lstrip("-"))
            # Empty values (no rating, no date) come last whichever way the list is sorted.
            fields.append(expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True))
        fields.append(F("pk").desc() if sorting.descending else F("pk").asc())
        return fields

    def apply(self, qs: QuerySet, sorting: Sorting) -> QuerySet:
        return qs.order_by(*self.order_by(sorting))
