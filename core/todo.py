"""A user's to-do list (issue 14): what waits, how many, and the list that shows exactly those
items. Each app plans its own lines (loans/todo.py, subsidies/todo.py): the counts it needs, as
scalar subqueries, and how to turn them into lines. config/todo.py asks every app, runs all the
counts in ONE query per request, and shares the lines between the home page and the menu, so the
menu's badges cost every page a single query whatever the data."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from django.contrib.auth import get_user_model
from django.db.models import IntegerField, QuerySet, Subquery, Value


class TodoItem(NamedTuple):
    key: str
    label: str
    count: int
    # The list showing exactly these items.
    url: str
    # The menu entry (its link) that shows this count as a badge; "" for none.
    menu: str = ""
    # "warn" or "bad" for what is late (checks overdue, loans past due, stuck applications).
    tone: str = ""


class TodoPlan(NamedTuple):
    """The counts an app needs (name → scalar subquery, see `count_of`) and how to make its lines
    from their values."""

    counts: dict
    lines: Callable[[dict], list[TodoItem]]


def count_of(qs: QuerySet, aggregate) -> Subquery:
    """`aggregate` (e.g. Count("pk", filter=Q(...))) over all of `qs`, as a scalar subquery: the
    constant grouping key is left out of GROUP BY, so the subquery answers one row."""
    rows = (
        qs.prefetch_related(None)
        .order_by()
        .annotate(_all=Value(1))
        .values("_all")
        .annotate(value=aggregate)
        .values("value")
    )
    return Subquery(rows, output_field=IntegerField())


def run(user, plans: list[TodoPlan]) -> list[TodoItem]:
    """Every plan's counts in one query (a SELECT of scalar subqueries on the user's own row), then
    every plan's lines, in order."""
    expressions = {name: expr for plan in plans for name, expr in plan.counts.items()}
    if not expressions:
        return []
    values = get_user_model().objects.filter(pk=user.pk).values(**expressions).get()
    return [item for plan in plans for item in plan.lines(values)]
