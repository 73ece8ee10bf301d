"""Reads of subsidy batches, scoped to what the user may see: a batch through its county, its
lines through their village (a village cadre sees the village's lines of the county's batch)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Trim
from django.shortcuts import get_object_or_404

from accounts.models import OrgUnit
from accounts.scoping import county_q, village_q, visible_villages

from .models import WAITING_REASONS, ExcludedReason, SubsidyBatch, SubsidyLine

ZERO = Decimal("0.00")


def batch_list(
    *, user, year: int | None = None, quarter: int | None = None, state: str = ""
) -> QuerySet[SubsidyBatch]:
    """The batches of the user's counties; of one year, quarter or state when given."""
    qs = SubsidyBatch.objects.filter(county_q(user, "county")).select_related(
        "county", "computed_by", "reviewed_by", "approved_by", "paid_by", "profile"
    )
    if state:
        qs = qs.filter(state=state)
    if year is not None:
        qs = qs.filter(year=year)
    if quarter is not None:
        qs = qs.filter(quarter=quarter)
    return qs


def counties() -> QuerySet[OrgUnit]:
    """Every county: what a new batch's input may name. Whether the user sees the one named is
    decided after (`county_get`), so another county answers 404 like one that does not exist."""
    return OrgUnit.objects.filter(kind=OrgUnit.Kind.COUNTY)


def county_get(*, user, pk) -> OrgUnit:
    """A unit of the user's counties, or 404."""
    return get_object_or_404(OrgUnit.objects.filter(county_q(user, "")), pk=pk)


def batch_village(*, user, batch: SubsidyBatch, pk) -> OrgUnit:
    """A village of the batch's county that the user sees, or 404."""
    return get_object_or_404(visible_villages(user).filter(parent__parent=batch.county_id), pk=pk)


def batch_get(*, user, pk) -> SubsidyBatch:
    """The batch, or 404 when it does not exist or is outside the user's counties."""
    return get_object_or_404(batch_list(user=user), pk=pk)


def line_list(*, user, batch: SubsidyBatch) -> QuerySet[SubsidyLine]:
    """The batch's lines the user may see, with what a list shows (household head, village and
    township, loan contract) joined in one query."""
    return (
        SubsidyLine.objects.filter(batch=batch)
        .filter(village_q(user, "village"))
        .select_related("village__parent", "household", "loan__borrower")
    )


def line_filter(
    qs: QuerySet[SubsidyLine], *, village=None, township=None, reason: str = "", q: str = "", subsidized=None
) -> QuerySet[SubsidyLine]:
    """The line list's filters. `reason` is an ExcludedReason code, or "subsidized"/"excluded"."""
    if village:
        qs = qs.filter(village_id=village)
    if township:
        qs = qs.filter(village__parent_id=township)
    if reason == "subsidized":
        qs = qs.filter(excluded_reason="")
    elif reason == "excluded":
        qs = qs.exclude(excluded_reason="")
    elif reason in ExcludedReason.values:
        qs = qs.filter(excluded_reason=reason)
    q = (q or "").strip()
    if q:
        qs = qs.filter(
            Q(loan__contract_no__icontains=q)
            | Q(household__registration_no__icontains=q)
            | Q(loan__borrower__name__icontains=q)
        )
    return qs


def lines_in_order(qs: QuerySet[SubsidyLine], *, by_township: bool = False) -> QuerySet[SubsidyLine]:
    """Lines as the lists show them: by village (after its township with `by_township`, as the
    page groups them), then loan and period."""
    village = ("village__parent__code", "village__code") if by_township else ("village__code",)
    return qs.order_by(*village, "loan_id", "period_start", "id")


def village_totals(lines: QuerySet[SubsidyLine]) -> list[dict]:
    """Per village: lines, households, loans with a subsidy, excluded lines and the amount, ordered
    by township and village. Two queries however many lines."""
    rows = {
        row["village_id"]: row
        for row in lines.order_by()
        .values("village_id")
        .annotate(
            lines=Count("pk"),
            households=Count("household_id", distinct=True),
            loans=Count("loan_id", distinct=True, filter=Q(subsidy__gt=0)),
            excluded=Count("pk", filter=~Q(excluded_reason="")),
            subsidized=Count("pk", filter=Q(subsidy__gt=0)),
            amount=Sum("subsidy"),
        )
    }
    villages = OrgUnit.objects.filter(pk__in=rows).select_related("parent").order_by("parent__code", "code")
    return [
        {**rows[v.pk], "amount": rows[v.pk]["amount"] or ZERO, "village": v, "township": v.parent}
        for v in villages
    ]


SUMMED = ("lines", "households", "loans", "excluded", "subsidized", "amount")


def sum_rows(rows: list[dict], **head) -> dict:
    total = {**head, **dict.fromkeys(SUMMED, 0), "amount": ZERO}
    for row in rows:
        for key in SUMMED:
            total[key] += row[key]
    return total


def sees_whole_county(user) -> bool:
    """Whether the user's area is a whole county (the county's offices and finance staff): the
    batch's own totals are theirs. Anyone below the county, or at a bank branch, sees a part."""
    if getattr(user, "is_superuser", False) and user.unit_id is None:
        return True
    unit = getattr(user, "unit", None)
    return unit is not None and unit.kind == OrgUnit.Kind.COUNTY


def header_totals(*, user, batch: SubsidyBatch, village_rows: list[dict]) -> dict:
    """The figures at the top of a batch's page, for the user's area (issue 14): the batch's own
    totals for the county's staff; for a cadre the village's, for a township officer the
    township's, for a bank branch its townships', summed from `village_rows` (`village_totals`
    of the user's lines), so the header and the table below it always agree. `area` names the
    part (None for the whole county)."""
    if sees_whole_county(user):
        return {
            "amount": batch.total,
            "subsidized": batch.subsidized_count,
            "lines": batch.line_count,
            "area": None,
        }
    total = sum_rows(village_rows)
    return {
        "amount": total["amount"],
        "subsidized": total["subsidized"],
        "lines": total["lines"],
        "area": user.unit,
    }


def area_totals(*, user, batches) -> dict[int, dict]:
    """For a page of batches, each batch's lines, lines with a subsidy and amount in the user's
    area (batch id → figures): one query for the page. Empty for the county's staff, whose
    figures are the batches' own."""
    if sees_whole_county(user):
        return {}
    rows = (
        SubsidyLine.objects.filter(batch__in=[b.pk for b in batches])
        .filter(village_q(user, "village"))
        .order_by()
        .values("batch_id")
        .annotate(lines=Count("pk"), subsidized=Count("pk", filter=Q(subsidy__gt=0)), amount=Sum("subsidy"))
    )
    found = {row["batch_id"]: {**row, "amount": row["amount"] or ZERO} for row in rows}
    empty = {"lines": 0, "subsidized": 0, "amount": ZERO}
    return {b.pk: found.get(b.pk, empty) for b in batches}


def township_totals(village_rows: list[dict]) -> list[dict]:
    # A household and its loans belong to one village, so per-village counts add up exactly.
    townships: dict[int, list[dict]] = {}
    for row in village_rows:
        townships.setdefault(row["township"].pk, []).append(row)
    return [sum_rows(rows, township=rows[0]["township"]) for rows in townships.values()]


def reason_totals(lines: QuerySet[SubsidyLine]) -> list[dict]:
    counts = dict(
        lines.order_by()
        .exclude(excluded_reason="")
        .values_list("excluded_reason")
        .annotate(n=Count("pk"))
        .values_list("excluded_reason", "n")
    )
    return [
        {
            "reason": reason,
            "label": reason.label,
            "count": counts[reason.value],
            "waiting": reason in WAITING_REASONS,
        }
        for reason in ExcludedReason
        if counts.get(reason.value)
    ]


def contracts_missing_account(batch: SubsidyBatch):
    """The contract numbers of the batch's loans that have a subsidy to pay but no borrower
    account on file (blank or spaces), in order: the payment file would have nowhere to send it."""
    return (
        SubsidyLine.objects.filter(batch=batch, subsidy__gt=0)
        .annotate(account=Trim("loan__account_no"))
        .filter(account="")
        .order_by("loan__contract_no")
        .values_list("loan__contract_no", flat=True)
        .distinct()
    )
