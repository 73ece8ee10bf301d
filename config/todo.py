"""A user's to-do list (issue 14): what waits for them in every app, counted once per request (in
one query) and shared by the home page (config/views.py) and the menu's badges
(context_processors.py)."""

from __future__ import annotations

from collections import defaultdict

from django.utils import timezone

from core import todo
from core.todo import TodoItem
from loans.todo import loan_todo
from riskfund.todo import claim_todo
from subsidies.todo import subsidy_todo

_CACHE_ATTRIBUTE = "_todo_items"


def todo_items(request) -> list[TodoItem]:
    """The user's to-do lines (zero counts included), computed on the first call of a request."""
    items = getattr(request, _CACHE_ATTRIBUTE, None)
    if items is None:
        user = request.user
        now = timezone.now()
        plans = (
            loan_todo(user=user, today=timezone.localdate(now), now=now)
            + subsidy_todo(user=user)
            + claim_todo(user=user)
        )
        # Every count of every app in one query (core/todo.py).
        items = todo.run(user, plans)
        setattr(request, _CACHE_ATTRIBUTE, items)
    return items


def menu_counts(request) -> dict[str, int]:
    """The menu's badges: per menu link, the sum of the to-do counts shown under it."""
    counts = defaultdict(int)
    for item in todo_items(request):
        if item.menu:
            counts[item.menu] += item.count
    return dict(counts)
