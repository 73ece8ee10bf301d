"""The interest-subsidy work waiting for finance staff (issue 14), for the home page's to-do
list and the menu's badge: batches to review, and batches this user may approve (four-eyes:
not one they computed or reviewed, DOMAIN §6). The counts run with every other app's in one query
(core/todo.py)."""

from __future__ import annotations

from django.db.models import Count, Max, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Role
from core.todo import TodoItem, TodoPlan, count_of

from . import selectors
from .workflow import State


def _link(state: str, count: int, one: int | None) -> str:
    """The batch itself when there is just one, else the list of batches in that state."""
    if count == 1 and one is not None:
        return reverse("subsidies:batch_detail", args=[one])
    return f"{reverse('subsidies:batch_list')}?state={state}"


def subsidy_todo(*, user) -> list[TodoPlan]:
    if not user.has_role(Role.FINANCE) or user.unit_id is None:
        return []
    batches = selectors.batch_list(user=user)
    review = Q(state=State.COMPUTED)
    approve = Q(state=State.REVIEWED) & ~(Q(computed_by=user) | Q(reviewed_by=user))
    counts = {
        "subsidies_review": count_of(batches, Count("pk", filter=review)),
        "subsidies_review_one": count_of(batches, Max("pk", filter=review)),
        "subsidies_approve": count_of(batches, Count("pk", filter=approve)),
        "subsidies_approve_one": count_of(batches, Max("pk", filter=approve)),
    }

    def lines(values: dict) -> list[TodoItem]:
        menu = reverse("subsidies:batch_list")
        review_n, approve_n = values["subsidies_review"], values["subsidies_approve"]
        return [
            TodoItem(
                "batches_to_review",
                _("Subsidy batches to review"),
                review_n,
                _link(State.COMPUTED, review_n, values["subsidies_review_one"]),
                menu,
            ),
            TodoItem(
                "batches_to_approve",
                _("Subsidy batches to approve"),
                approve_n,
                _link(State.REVIEWED, approve_n, values["subsidies_approve_one"]),
                menu,
            ),
        ]

    return [TodoPlan(counts, lines)]
