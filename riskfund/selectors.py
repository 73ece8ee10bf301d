"""Every read the fund pages and the API make. Each function takes the acting user and answers a
scoped queryset or object; anything outside the user's area is absent, so a lookup answers 404
(`Http404`) exactly like a row that does not exist.

Who sees a fund: finance, the county office, the fund committee and administrators of its county;
loan officers and approvers of its bank (a branch's bank is the branch's parent). Nobody else."""

from __future__ import annotations

from django.db.models import Count, DecimalField, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import OrgUnit, Role
from accounts.scoping import NOTHING

from .models import ZERO, Account, CompensationClaim, LedgerEntry, LedgerTransaction, Recovery, RiskFund

# ---------------------------------------------------------------------------------------------
# Funds

COUNTY_ROLES = (Role.FINANCE, Role.COUNTY_OFFICE, Role.FUND_COMMITTEE, Role.ADMIN)
BANK_ROLES = (Role.LOAN_OFFICER, Role.APPROVER)


def fund_q(user, fund: str = "") -> Q:
    """A filter for funds (or rows hanging off a fund through the lookup path `fund`) the user sees."""
    prefix = f"{fund}__" if fund else ""
    if not getattr(user, "is_authenticated", False):
        return NOTHING
    if user.is_superuser and user.unit_id is None:
        return Q()
    unit = user.unit
    if unit is None:
        return NOTHING
    if unit.kind == OrgUnit.Kind.COUNTY and user.has_role(*COUNTY_ROLES):
        return Q(**{f"{prefix}county_id": unit.pk})
    if user.has_role(*BANK_ROLES):
        if unit.kind == OrgUnit.Kind.BRANCH:
            return Q(**{f"{prefix}bank_id": unit.parent_id})
        if unit.kind == OrgUnit.Kind.BANK:
            return Q(**{f"{prefix}bank_id": unit.pk})
    return NOTHING


def _fund_balance():
    total = (
        LedgerEntry.objects.filter(fund=OuterRef("pk"), account=Account.FUND)
        .order_by()
        .values("fund")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(
        Subquery(total, output_field=DecimalField(max_digits=14, decimal_places=2)),
        Value(ZERO),
        output_field=DecimalField(max_digits=14, decimal_places=2),
    )


def fund_list(user) -> QuerySet[RiskFund]:
    """Funds the user may see, with county and bank joined and `balance_total` (the sum of the FUND
    legs) annotated, so a list costs no query per fund for its balance."""
    return (
        RiskFund.objects.filter(fund_q(user))
        .select_related("county", "bank")
        .annotate(balance_total=_fund_balance())
        .order_by("county__code", "bank__code")
    )


def fund_search(user, *, q: str = "") -> QuerySet[RiskFund]:
    """The fund list's rows for a search on the fund's name, account number, county or bank."""
    qs = fund_list(user)
    if q := (q or "").strip():
        qs = qs.filter(
            Q(name__icontains=q)
            | Q(account_no__icontains=q)
            | Q(county__name__icontains=q)
            | Q(bank__name__icontains=q)
        )
    return qs


def fund_get(user, pk) -> RiskFund:
    """One fund in the user's area, or 404."""
    return get_object_or_404(fund_list(user), pk=pk)


def entry_list(fund: RiskFund) -> QuerySet[LedgerEntry]:
    """A fund's ledger entries, oldest first, each with its transaction joined."""
    return (
        LedgerEntry.objects.filter(fund=fund)
        .select_related("transaction")
        .order_by("transaction__booked_on", "transaction_id", "id")
    )


def transaction_list(fund: RiskFund) -> QuerySet[LedgerTransaction]:
    """A fund's transactions, newest first, with their legs, who entered them and what reversed them."""
    return (
        LedgerTransaction.objects.filter(fund=fund)
        .select_related("created_by", "reversed_by", "reverses")
        .prefetch_related("entries")
        .order_by("-booked_on", "-id")
    )


def transaction_get(fund: RiskFund, pk) -> LedgerTransaction:
    return get_object_or_404(LedgerTransaction.objects.select_related("fund"), fund=fund, pk=pk)


# ---------------------------------------------------------------------------------------------
# Recoveries (the bank's collections after compensation and the return of the fund's share)

RECOVERY_TABS = ("due", "late", "returned")


def recovery_tab_q(tab: str, today) -> Q:
    """due: the fund's share not returned yet; late: overdue now (not returned and the due day
    passed) or returned after the due day; returned: back in the fund."""
    if tab == "due":
        return Q(returned_on__isnull=True)
    if tab == "late":
        return Q(returned_on__isnull=True, due_on__lt=today) | Q(returned_on__gt=F("due_on"))
    if tab == "returned":
        return Q(returned_on__isnull=False)
    return Q()


def recovery_list(user, *, tab: str = "", claim=None, fund=None, today=None) -> QuerySet[Recovery]:
    """Recoveries of claims on funds the user sees (the county's staff, the bank's officers and
    approvers), claim, loan, borrower and fund joined; oldest due day first."""
    qs = Recovery.objects.filter(fund_q(user, "claim__fund")).filter(
        recovery_tab_q(tab, today or timezone.localdate())
    )
    if claim is not None:
        qs = qs.filter(claim_id=getattr(claim, "pk", claim))
    if fund is not None:
        qs = qs.filter(claim__fund_id=getattr(fund, "pk", fund))
    return qs.select_related(
        "claim__fund__county", "claim__fund__bank", "claim__loan__borrower", "claim__loan__branch"
    ).order_by("due_on", "id")


def recovery_tab_counts(user, today=None) -> dict[str, int]:
    today = today or timezone.localdate()
    return Recovery.objects.filter(fund_q(user, "claim__fund")).aggregate(
        all=Count("pk"), **{tab: Count("pk", filter=recovery_tab_q(tab, today)) for tab in RECOVERY_TABS}
    )


def recovery_get(user, pk):
    """One recovery the user sees, or 404."""
    return get_object_or_404(recovery_list(user), pk=pk)


def recovery_claim_get(user, pk):
    """A claim (on a fund the user sees) to record a recovery on, or 404."""
    return get_object_or_404(
        CompensationClaim.objects.filter(fund_q(user, "fund")).select_related("fund", "loan", "profile"),
        pk=pk,
    )


def claim_recoveries(claim) -> QuerySet:
    """A claim's recoveries, as its page lists them (oldest first)."""
    return claim.recoveries.select_related("recorded_by", "returned_by").order_by("received_on", "id")


def days_late(recovery, today=None) -> int:
    """Calendar days after the due day: to the return, or to today while the share is still out."""
    end = recovery.returned_on or today or timezone.localdate()
    return max((end - recovery.due_on).days, 0)


def bank_choices() -> QuerySet[OrgUnit]:
    """The co-operating banks a fund can be opened at."""
    return OrgUnit.objects.filter(kind=OrgUnit.Kind.BANK).order_by("code")


# ---------------------------------------------------------------------------------------------
# The leverage headroom (DOMAIN §8; P1 art.38) on the home pages and the bank's queues

HEADROOM_COUNTY_ROLES = (Role.COUNTY_OFFICE, Role.FINANCE, Role.FUND_COMMITTEE)


def headroom_for(user, on_date):
    """The lending room (riskfund.services.leverage.Headroom) of the funds the user works under:
    loan officers and approvers see their bank's funds in the counties their branch serves (a
    branch's bank is its parent); the county office, finance and the fund committee their
    county's funds; anyone else nothing, without a query. At most three queries (the user's unit
    if not loaded yet, the funds with their sums, the profiles' multiples)."""
    from .services.leverage import headrooms

    if not getattr(user, "is_authenticated", False) or user.unit_id is None:
        return []
    county_role = user.has_role(*HEADROOM_COUNTY_ROLES)
    bank_role = user.has_role(*BANK_ROLES)
    if not (county_role or bank_role):
        return []
    unit = user.unit
    if county_role and unit.kind == OrgUnit.Kind.COUNTY:
        funds = RiskFund.objects.filter(county_id=unit.pk)
    elif bank_role and unit.kind == OrgUnit.Kind.BRANCH:
        served = OrgUnit.objects.filter(serving_branches=unit).values("parent_id")
        funds = RiskFund.objects.filter(bank_id=unit.parent_id, county_id__in=served)
    elif bank_role and unit.kind == OrgUnit.Kind.BANK:
        served = OrgUnit.objects.filter(serving_branches__parent=unit).values("parent_id")
        funds = RiskFund.objects.filter(bank_id=unit.pk, county_id__in=served)
    else:
        return []
    return headrooms(funds, on_date=on_date)


# ---------------------------------------------------------------------------------------------
# Loss claims (DOMAIN §8; P1 arts. 20-21, 39): the claims list and page, the queues, and the
# dates and figures a loan's claim would have (riskfund/claim_rules.py)

# The queue each role works: (tab, the state waiting for it, the role).
CLAIM_QUEUES = {
    "review": ("filed", Role.COUNTY_OFFICE),
    "decide": ("reviewed", Role.FUND_COMMITTEE),
    "pay": ("approved", Role.FINANCE),
}


def claim_list(
    user, *, state: str = "", queue: str = "", trigger: str = "", loan=None
) -> QuerySet[CompensationClaim]:
    """Claims on funds the user sees (the bank's claims for its officers and approvers, the
    county's for its staff), newest first, loan, borrower, branch and fund joined."""
    qs = CompensationClaim.objects.filter(fund_q(user, "fund"))
    if state:
        qs = qs.filter(state=state)
    if queue in CLAIM_QUEUES:
        qs = qs.filter(state=CLAIM_QUEUES[queue][0])
    if trigger:
        qs = qs.filter(trigger=trigger)
    if loan is not None:
        qs = qs.filter(loan_id=getattr(loan, "pk", loan))
    return qs.select_related(
        "fund__county", "fund__bank", "loan__borrower", "loan__branch", "filed_by"
    ).order_by("-filed_at", "-id")


def claim_get(user, pk) -> CompensationClaim:
    """One claim the user sees, or 404."""
    return get_object_or_404(
        claim_list(user).select_related(
            "profile", "reviewed_by", "decided_by", "paid_by", "loan__household__village__parent"
        ),
        pk=pk,
    )


def claim_history(claim) -> QuerySet:
    return claim.history.select_related("by").order_by("at", "id")


def claim_queues(user) -> list[str]:
    """The queues (tabs) the user works: review for the county office, decide for the committee,
    pay for finance."""
    return [name for name, (_state, role) in CLAIM_QUEUES.items() if user.has_role(role)]


def claim_queue_aggregates() -> dict:
    """Per queue, the count of its claims (the claim list's `queue` filter), to aggregate over
    `claim_scope(user)`: the claim list's tabs and the home page's to-do lines (riskfund/todo.py)
    count with these."""
    return {name: Count("pk", filter=Q(state=state)) for name, (state, _role) in CLAIM_QUEUES.items()}


def claim_scope(user) -> QuerySet[CompensationClaim]:
    """The claims on funds the user sees, nothing joined (for counting)."""
    return CompensationClaim.objects.filter(fund_q(user, "fund"))


def claim_queue_counts(user) -> dict[str, int]:
    return claim_scope(user).aggregate(**claim_queue_aggregates())


def claimable_on(loan, trigger: str, *, on_date=None):
    """The first day a claim under `trigger` may be filed on `loan` (by the profile in force on
    `on_date`, today by default), or None when the trigger does not apply to the loan."""
    from policies.selectors import profile_for

    from . import claim_rules

    fund = claim_rules.fund_for(loan)
    county = fund.county if fund else loan.household.village.parent.parent
    profile = profile_for(county=county, on_date=on_date or timezone.localdate())
    return claim_rules.eligible_on(loan, trigger, profile, died_on=claim_rules.death_on(loan))


def claim_outlook(loan, *, on_date=None) -> dict:
    """What the loan page and the filing page show: the loan's latest claim, and for an open loan
    without a live one, each trigger that applies with the day it opens, whether that day has
    come, the fund, and (with `preview`) the loss as it would be claimed today. A fixed number of
    queries whatever the loan."""
    from django.db.models import Case, When

    from policies.exceptions import PolicyProfileMissing
    from policies.selectors import profile_for

    from . import claim_rules

    today = on_date or timezone.localdate()
    claim = (
        CompensationClaim.objects.filter(loan=loan)
        .order_by(
            # A live claim first, then the newest.
            Case(When(state__in=["filed", "reviewed", "approved", "paid"], then=0), default=1),
            "-filed_at",
            "-id",
        )
        .first()
    )
    outlook = {"claim": claim, "triggers": [], "fund": None, "profile": None, "open": False}
    if loan.state not in ("active", "overdue", "extended"):
        return outlook
    if claim is not None and claim.state in ("filed", "reviewed", "approved", "paid"):
        return outlook
    fund = claim_rules.fund_for(loan)
    try:
        profile = profile_for(
            county=fund.county if fund else loan.household.village.parent.parent, on_date=today
        )
    except PolicyProfileMissing:
        return outlook
    died_on = claim_rules.death_on(loan)
    # Read whatever the triggers, so the loan page costs the same queries for every loan.
    overdue_start = claim_rules.overdue_from(loan)
    rows = []
    for trigger in claim_rules.triggers_for(loan, died_on=died_on):
        when = claim_rules.eligible_on(loan, trigger, profile, died_on=died_on, overdue_start=overdue_start)
        rows.append(
            {
                "trigger": trigger,
                "label": CompensationClaim.Trigger(trigger).label,
                "eligible_on": when,
                "open": when is not None and when <= today,
            }
        )
    outlook.update(
        triggers=rows, fund=fund, profile=profile, open=fund is not None and any(r["open"] for r in rows)
    )
    return outlook


def claim_preview(loan, profile, *, trigger: str = "", on_date=None) -> dict:
    """The loss a claim filed today would carry, and the policy insurance must pay from first."""
    from . import claim_rules

    today = on_date or timezone.localdate()
    died_on = claim_rules.death_on(loan)
    event_on = died_on if trigger == "death" and died_on else today
    return {
        "loss": claim_rules.loss_for(loan, profile),
        "pending_policy": claim_rules.pending_insurance(loan, event_on),
    }
