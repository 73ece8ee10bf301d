"""What waits for someone (issue 14): the filters that the home page's to-do counts (todo.py) and
the lists those counts link to share, so a count and the list it opens cannot disagree.

Each filter is a queryset expression over applications or loans already scoped by the
selectors; none reads a row into Python."""

from __future__ import annotations

import datetime

from django.db.models import DateTimeField, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Trim
from django.utils import timezone

from .models import ApplicationHistory, Loan, LoanApplication, PublicityNotice
from .workflow import IN_FLIGHT_STATES, State

# An application that has sat this many days in one stage is stuck: the county office and the
# township officer are told (calendar days, since the state was entered).
STUCK_DAYS = 10
# Loans maturing within this many days are on the loan officer's list.
MATURING_DAYS = 30

# The `todo` filters of the application list (?todo=…).
RETURNED = "returned"
OBJECTION = "objection"
STUCK = "stuck"
APPLICATION_FILTERS = (RETURNED, OBJECTION, STUCK)


def _last_history(field: str) -> Subquery:
    rows = ApplicationHistory.objects.filter(application=OuterRef("pk")).order_by("-at", "-id")
    return Subquery(rows.values(field)[:1])


def with_last_step(qs: QuerySet[LoanApplication]) -> QuerySet[LoanApplication]:
    """Each application with `last_step` (the last transition taken: "send_back", "object" …) and
    `state_since` (when it entered its state: that transition, or its creation for a new draft)."""
    return qs.annotate(
        last_step=_last_history("transition"),
        state_since=Coalesce(_last_history("at"), "created_at", output_field=DateTimeField()),
    )


def stuck_before(now: datetime.datetime) -> datetime.datetime:
    return now - datetime.timedelta(days=STUCK_DAYS)


def application_q(key: str, now: datetime.datetime) -> Q:
    """The condition of one to-do filter, on applications annotated by `with_last_step`.
    - returned: a draft that the village review sent back for changes;
    - objection: back in village review because of an objection during publicity;
    - stuck: on its way to a loan and in the same stage for more than STUCK_DAYS days."""
    if key == RETURNED:
        return Q(state=State.DRAFT, last_step="send_back")
    if key == OBJECTION:
        return Q(state=State.VILLAGE_REVIEW, last_step="object")
    if key == STUCK:
        return Q(state__in=IN_FLIGHT_STATES, state_since__lt=stuck_before(now))
    return Q()


def narrow_applications(qs: QuerySet[LoanApplication], key: str, now: datetime.datetime | None = None):
    """The application list narrowed to one to-do filter (an unknown key narrows nothing)."""
    if key not in APPLICATION_FILTERS:
        return qs
    return with_last_step(qs).filter(application_q(key, now or timezone.now()))


def week_end(today: datetime.date) -> datetime.date:
    """The Sunday that ends today's week."""
    return today + datetime.timedelta(days=6 - today.weekday())


def publicity_ends() -> Subquery:
    """The last day of an application's running notices: it leaves publicity after that day."""
    running = (
        PublicityNotice.objects.filter(application=OuterRef("pk"), status=PublicityNotice.Status.RUNNING)
        .order_by()
        .values("application")
        .annotate(last=Max("end_on"))
        .values("last")
    )
    return Subquery(running[:1])


def maturing_q(today: datetime.date, prefix: str = "") -> Q:
    """Open loans maturing from today to MATURING_DAYS days on."""
    return Q(
        **{
            f"{prefix}state__in": Loan.OPEN_STATES,
            f"{prefix}maturity_on__gte": today,
            f"{prefix}maturity_on__lte": today + datetime.timedelta(days=MATURING_DAYS),
        }
    )


def with_account(qs: QuerySet[Loan]) -> QuerySet[Loan]:
    """Loans with `account_trimmed`, their borrower account without spaces at either end."""
    return qs.annotate(account_trimmed=Trim("account_no"))


# Open loans whose borrower account the bank has not entered (on loans annotated by `with_account`):
# their interest subsidy has nowhere to go (DOMAIN §3 account at the lending bank).
ACCOUNT_MISSING_Q = Q(state__in=Loan.OPEN_STATES, account_trimmed="")


def ending_by(qs: QuerySet[LoanApplication], day: datetime.date) -> QuerySet[LoanApplication]:
    """Applications under publicity (the publicity board's rows) whose notices end by `day`."""
    return qs.annotate(publicity_end=publicity_ends()).filter(publicity_end__lte=day)


def narrow_loans(qs: QuerySet[Loan], *, maturing_from=None, account_missing: bool = False) -> QuerySet[Loan]:
    """The loan book narrowed to what waits: open loans maturing within MATURING_DAYS of
    `maturing_from`, or open loans without a borrower account."""
    if maturing_from is not None:
        qs = qs.filter(maturing_q(maturing_from))
    if account_missing:
        qs = with_account(qs).filter(ACCOUNT_MISSING_Q)
    return qs


# The loan book's to-do filters (?todo=…), and the publicity board's (?ending=week).
MATURING = "maturing"
ACCOUNT_MISSING = "account_missing"
ENDING_THIS_WEEK = "week"


def todo_filter(request) -> dict | None:
    """The to-do filter a list was opened with from the home page (?todo=… or ?ending=week), as the
    list's banner shows it: its name, the same words as the home page's line, and the address of
    the list without it. None when the list is not narrowed so."""
    from django.utils.translation import gettext as _

    labels = {
        ("todo", RETURNED): _("Applications sent back for changes"),
        ("todo", OBJECTION): _("Objections to review"),
        ("todo", STUCK): _("Applications in one stage for more than %(days)d days") % {"days": STUCK_DAYS},
        ("todo", MATURING): _("Loans maturing within %(days)d days") % {"days": MATURING_DAYS},
        ("todo", ACCOUNT_MISSING): _("Loans without a borrower account"),
        ("ending", ENDING_THIS_WEEK): _("Publicity ending this week"),
    }
    for param in ("todo", "ending"):
        label = labels.get((param, request.GET.get(param, "")))
        if label:
            rest = request.GET.copy()
            rest.pop(param, None)
            rest.pop("page", None)
            query = rest.urlencode()
            return {"label": label, "clear_url": request.path + (f"?{query}" if query else "")}
    return None
