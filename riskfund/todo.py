"""The loss claims waiting for a user (issue 14), for the home page's to-do list and the menu's
badge on 补偿申请: the county office's claims to review, the fund committee's to decide, finance's
to pay — the claim list's queues (selectors.CLAIM_QUEUES), counted over the claims the user sees
exactly as the list's tabs count them, and each line links to its tab. The counts run with every
other app's in one query (core/todo.py)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from core.todo import TodoItem, TodoPlan, count_of

from . import selectors


def _labels() -> dict[str, str]:
    return {"review": _("Claims to review"), "decide": _("Claims to decide"), "pay": _("Claims to pay")}


def claim_todo(*, user) -> list[TodoPlan]:
    """The claim queues the user's roles work (none: no plan, no count)."""
    queues = selectors.claim_queues(user) if user.unit_id is not None else []
    if not queues:
        return []
    claims = selectors.claim_scope(user)
    aggregates = selectors.claim_queue_aggregates()
    counts = {f"riskfund_{name}": count_of(claims, aggregates[name]) for name in queues}

    def lines(values: dict) -> list[TodoItem]:
        menu = reverse("riskfund:claim_list")
        labels = _labels()
        return [
            TodoItem(
                f"claims_{name}",
                labels[name],
                values[f"riskfund_{name}"],
                f"{menu}?queue={name}",
                menu,
            )
            for name in queues
        ]

    return [TodoPlan(counts, lines)]
