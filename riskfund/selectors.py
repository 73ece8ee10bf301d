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


def recovery_list(user, *, tab: str = "", claim=None, fund=None, today=None) -> QuerySet:
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
        **{tab: Count("pk", filter=recovery_tab_q(tab, today)) for tab in RECOVERY_TABS}
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
