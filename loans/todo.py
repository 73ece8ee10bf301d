"""The loan work waiting for a user (issue 14), for the home page's to-do list and the menu's
badges: each line a count and the link to the list showing exactly those items (the lists apply
the same filters, from waiting.py). Each role's counts are scalar subqueries that config/todo.py
runs with every other app's in one query per request, whatever the data.

- village cadre: drafts, drafts sent back, publicity ending this week, objections to review,
  post-loan checks due and overdue;
- loan officer: applications to accept (acceptance records the pre-loan investigation: there is
  no separate investigation stage, workflow.py), to disburse, checks due and overdue, overdue
  loans by bucket, loans maturing within 30 days;
- approver: applications to approve (not those the approver investigated: four-eyes), extensions
  to decide;
- finance: open loans without a borrower account (their subsidy has nowhere to go);
- county office and township officer: applications in one stage for more than STUCK_DAYS days,
  per stage."""

from __future__ import annotations

import datetime
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import Role
from core.todo import TodoItem, TodoPlan, count_of

from . import selectors, waiting
from .classification import BUCKETS
from .services import changes
from .workflow import IN_FLIGHT_STATES, State


def _url(name: str, **query) -> str:
    url = reverse(name)
    return f"{url}?{urlencode(query)}" if query else url


def _applications(state: str = "", todo: str = "") -> str:
    query = {k: v for k, v in (("state", state), ("todo", todo)) if v}
    return _url("loans:application_list", **query)


def _checks_counts(user, today: datetime.date) -> dict:
    """Open checks due soon and overdue, as the check list counts them (selectors.checks_due)."""
    checks = selectors.check_list(user=user).filter(done_on__isnull=True)
    return {
        "loans_checks_overdue": count_of(
            checks, Count("pk", filter=selectors.due_q(today, selectors.Status.OVERDUE))
        ),
        "loans_checks_due": count_of(
            checks, Count("pk", filter=selectors.due_q(today, selectors.Status.DUE))
        ),
    }


def _checks_lines(values: dict) -> list[TodoItem]:
    menu = reverse("loans:checks_due")
    return [
        TodoItem(
            "checks_overdue",
            _("Post-loan checks overdue"),
            values["loans_checks_overdue"],
            _url("loans:checks_due", status=selectors.Status.OVERDUE),
            menu,
            "bad",
        ),
        TodoItem(
            "checks_due",
            _("Post-loan checks due within %(days)d days") % {"days": selectors.DUE_SOON_DAYS},
            values["loans_checks_due"],
            _url("loans:checks_due", status=selectors.Status.DUE),
            menu,
        ),
    ]


def cadre_plan(user, today: datetime.date, now: datetime.datetime) -> TodoPlan:
    apps = waiting.with_last_step(selectors.application_list(user=user)).annotate(
        publicity_end=waiting.publicity_ends()
    )
    counts = {
        "loans_drafts": count_of(apps, Count("pk", filter=Q(state=State.DRAFT))),
        "loans_returned": count_of(apps, Count("pk", filter=waiting.application_q(waiting.RETURNED, now))),
        "loans_objection": count_of(apps, Count("pk", filter=waiting.application_q(waiting.OBJECTION, now))),
        "loans_ending": count_of(
            apps, Count("pk", filter=Q(state=State.PUBLICITY, publicity_end__lte=waiting.week_end(today)))
        ),
        **_checks_counts(user, today),
    }

    def lines(values: dict) -> list[TodoItem]:
        mine = reverse("loans:application_list")
        return [
            TodoItem(
                "returned",
                _("Applications sent back for changes"),
                values["loans_returned"],
                _applications(State.DRAFT, waiting.RETURNED),
                "",  # among the drafts, which the menu counts
                "warn",
            ),
            TodoItem(
                "objection",
                _("Objections to review"),
                values["loans_objection"],
                _applications(State.VILLAGE_REVIEW, waiting.OBJECTION),
                mine,
                "warn",
            ),
            TodoItem("drafts", _("Drafts"), values["loans_drafts"], _applications(State.DRAFT), mine),
            TodoItem(
                "publicity_ending",
                _("Publicity ending this week"),
                values["loans_ending"],
                _url("loans:publicity_board", ending=waiting.ENDING_THIS_WEEK),
                reverse("loans:publicity_board"),
            ),
            *_checks_lines(values),
        ]

    return TodoPlan(counts, lines)


def officer_plan(user, today: datetime.date) -> TodoPlan:
    queue = selectors.application_list(user=user).filter(branch_id=user.unit_id)
    loans = selectors.loan_list(user=user)
    overdue = selectors.overdue_list(user=user)
    counts = {
        "loans_accept": count_of(queue, Count("pk", filter=Q(state=State.BANK_ACCEPTANCE))),
        "loans_disburse": count_of(queue, Count("pk", filter=Q(state=State.APPROVED))),
        "loans_maturing": count_of(loans, Count("pk", filter=waiting.maturing_q(today))),
        **{f"loans_bucket_{i}": count_of(overdue, Count("pk", filter=b.q())) for i, b in enumerate(BUCKETS)},
        **_checks_counts(user, today),
    }

    def lines(values: dict) -> list[TodoItem]:
        overdue_menu = reverse("loans:overdue_list")
        return [
            TodoItem(
                "to_accept",
                _("Applications to accept and investigate"),
                values["loans_accept"],
                reverse("loans:acceptance_queue"),
                reverse("loans:acceptance_queue"),
            ),
            TodoItem(
                "to_disburse",
                _("Approved applications to disburse"),
                values["loans_disburse"],
                reverse("loans:disbursement_queue"),
                reverse("loans:disbursement_queue"),
            ),
            *_checks_lines(values),
            *(
                TodoItem(
                    f"overdue_{b.key}",
                    _("Loans %(days)s days past due") % {"days": b.label},
                    values[f"loans_bucket_{i}"],
                    _url("loans:overdue_list", bucket=b.key),
                    overdue_menu,
                    "bad" if i else "warn",
                )
                for i, b in enumerate(BUCKETS)
            ),
            TodoItem(
                "maturing",
                _("Loans maturing within %(days)d days") % {"days": waiting.MATURING_DAYS},
                values["loans_maturing"],
                _url("loans:book_list", todo=waiting.MATURING),
            ),
        ]

    return TodoPlan(counts, lines)


def approver_plan(user) -> TodoPlan:
    queue = selectors.bank_queue(user=user, role=Role.APPROVER, state=State.BANK_APPROVAL)
    counts = {
        # Four-eyes: not the applications this user investigated.
        "loans_approve": count_of(queue, Count("pk", filter=~Q(investigated_by=user))),
        "loans_extensions": count_of(changes.extensions_to_decide(user=user), Count("pk")),
    }

    def lines(values: dict) -> list[TodoItem]:
        return [
            TodoItem(
                "to_approve",
                _("Applications to approve"),
                values["loans_approve"],
                reverse("loans:approval_queue"),
                reverse("loans:approval_queue"),
            ),
            TodoItem(
                "extensions",
                _("Extensions to decide"),
                values["loans_extensions"],
                reverse("loans:change_extension_queue"),
                reverse("loans:change_extension_queue"),
            ),
        ]

    return TodoPlan(counts, lines)


def finance_plan(user) -> TodoPlan:
    loans = waiting.with_account(selectors.loan_list(user=user))
    counts = {"loans_no_account": count_of(loans, Count("pk", filter=waiting.ACCOUNT_MISSING_Q))}

    def lines(values: dict) -> list[TodoItem]:
        return [
            TodoItem(
                "accounts_missing",
                _("Loans without a borrower account"),
                values["loans_no_account"],
                _url("loans:book_list", todo=waiting.ACCOUNT_MISSING),
                tone="warn",
            )
        ]

    return TodoPlan(counts, lines)


def stuck_plan(user, now: datetime.datetime) -> TodoPlan:
    """Applications in one stage for more than STUCK_DAYS days, per stage."""
    stuck = waiting.application_q(waiting.STUCK, now)
    apps = waiting.with_last_step(selectors.application_list(user=user))
    counts = {
        f"loans_stuck_{s}": count_of(apps, Count("pk", filter=stuck & Q(state=s))) for s in IN_FLIGHT_STATES
    }

    def lines(values: dict) -> list[TodoItem]:
        menu = reverse("loans:application_list")
        return [
            TodoItem(
                f"stuck_{state}",
                _("%(state)s for more than %(days)d days")
                % {"state": State(state).label, "days": waiting.STUCK_DAYS},
                values[f"loans_stuck_{state}"],
                _applications(state, waiting.STUCK),
                menu,
                "warn",
            )
            for state in IN_FLIGHT_STATES
        ]

    return TodoPlan(counts, lines)


def loan_todo(*, user, today: datetime.date, now: datetime.datetime) -> list[TodoPlan]:
    """The loan plans for the roles the user holds, in the order the home page lists them."""
    plans = []
    if user.unit_id is None:
        return plans
    if user.has_role(Role.VILLAGE_CADRE):
        plans.append(cadre_plan(user, today, now))
    if user.has_role(Role.LOAN_OFFICER):
        plans.append(officer_plan(user, today))
    if user.has_role(Role.APPROVER):
        plans.append(approver_plan(user))
    if user.has_role(Role.FINANCE):
        plans.append(finance_plan(user))
    if user.has_role(Role.COUNTY_OFFICE, Role.TOWNSHIP_OFFICER):
        plans.append(stuck_plan(user, now))
    return plans
