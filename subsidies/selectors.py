"""Reads of subsidy batches, scoped to what the user may see: a batch through its county, its
lines through their village (a village cadre sees the village's lines of the county's batch)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from accounts.models import OrgUnit
from accounts.scoping import county_q, village_q

from .models import ExcludedReason, SubsidyBatch, SubsidyLine


def batch_list(*, user) -> QuerySet[SubsidyBatch]:
    return SubsidyBatch.objects.filter(county_q(user, "county")).select_related(
        "county", "computed_by", "reviewed_by", "approved_by", "paid_by", "profile"
    )


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


def village_totals(*, user, batch: SubsidyBatch) -> list[dict]:
    """Per village the user sees: lines, households, loans with a subsidy and the amount, ordered
    by township and village; one query however many lines."""
    rows = (
        SubsidyLine.objects.filter(batch=batch)
        .filter(village_q(user, "village"))
        .values("village_id")
        .annotate(
            lines=Count("pk"),
            households=Count("household_id", distinct=True),
            subsidized=Count("pk", filter=Q(subsidy__gt=0)),
            excluded=Count("pk", filter=~Q(excluded_reason="")),
            amount=Sum("subsidy"),
        )
    )
    by_village = {row["village_id"]: row for row in rows}
    villages = (
        OrgUnit.objects.filter(pk__in=by_village).select_related("parent").order_by("parent__code", "code")
    )
    result = []
    for village in villages:
        row = by_village[village.pk]
        result.append({**row, "village": village, "township": village.parent})
    return result


def township_totals(village_rows: list[dict]) -> list[dict]:
    """The village rows summed per township, in the same order."""
    townships: dict[int, dict] = {}
    for row in village_rows:
        t = townships.setdefault(
            row["township"].pk,
            {
                "township": row["township"],
                "lines": 0,
                "households": 0,
                "subsidized": 0,
                "excluded": 0,
                "amount": 0,
            },
        )
        for key in ("lines", "households", "subsidized", "excluded", "amount"):
            t[key] += row[key] or 0
    return list(townships.values())


def reason_totals(*, user, batch: SubsidyBatch) -> list[dict]:
    """How many lines have each exclusion reason, in the order of ExcludedReason."""
    counts = dict(
        SubsidyLine.objects.filter(batch=batch)
        .filter(village_q(user, "village"))
        .exclude(excluded_reason="")
        .values_list("excluded_reason")
        .annotate(n=Count("pk"))
    )
    return [
        {"reason": reason, "label": reason.label, "count": counts[reason.value]}
        for reason in ExcludedReason
        if counts.get(reason.value)
    ]
