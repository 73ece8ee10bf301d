"""Servicing after disbursement (DOMAIN §5): principal repayments and settlement (结清), and the
daily ageing of overdue loans with the classification floor. Interest settlements are in
settlements.py, the bank's list of them in settlement_list.py."""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from core import fsm
from core.audit import audit
from core.exceptions import ApplicationError, ConflictError
from policies.models import PolicyProfile
from policies.selectors import profiles_by_county

from .. import lifecycle
from ..classification import bucket_for, classification_floor, worse
from ..models import ClassificationChange, Loan, LoanStateChange, Repayment, Settlement
from ..permissions import require_loan_in_scope, require_servicer

logger = logging.getLogger(__name__)

CHUNK = 1000
AUTO_REASON = "按逾期天数自动调整"


# ---------------------------------------------------------------------------------------------
# Repayments


@transaction.atomic
def repayment_record(
    *, acting_user, loan: Loan, principal: Decimal, paid_on: datetime.date, note: str = ""
) -> Repayment:
    """A principal repayment. The one that brings the outstanding to zero settles the loan (结清)."""
    require_servicer(acting_user)
    # The row lock makes two repayments entered at once take turns: the second sees the first's
    # outstanding and cannot repay more than is left.
    loan = fsm.lock(loan)
    require_loan_in_scope(acting_user, loan)
    if loan.state not in Loan.OPEN_STATES:
        raise ConflictError(
            _("This loan is %(state)s; no repayment can be recorded.") % {"state": loan.get_state_display()},
            "loan_closed",
        )
    principal = Decimal(principal)
    if principal <= 0:
        raise ApplicationError(_("The amount repaid must be more than zero."), "invalid", field="principal")
    if principal != principal.quantize(Decimal("0.01")):
        raise ApplicationError(_("Amounts are kept to the fen (two decimals)."), "invalid", field="principal")
    if principal > loan.outstanding:
        raise ApplicationError(
            _("The amount repaid is more than the outstanding principal of %(amount)s.")
            % {"amount": loan.outstanding},
            "invalid",
            field="principal",
        )
    if paid_on < loan.disbursed_on:
        raise ApplicationError(
            _("The repayment date cannot be before the disbursement on %(date)s.")
            % {"date": loan.disbursed_on},
            "invalid",
            field="paid_on",
        )
    if paid_on > timezone.localdate():
        raise ApplicationError(_("The repayment date cannot be in the future."), "invalid", field="paid_on")
    loan.outstanding -= principal
    repayment = Repayment.objects.create(
        loan=loan,
        paid_on=paid_on,
        principal=principal,
        outstanding_after=loan.outstanding,
        reason=note,
        recorded_by=acting_user,
    )
    fields = ["outstanding"]
    if loan.outstanding == 0:
        lifecycle.take(loan, "settle", acting_user, note)
        loan.settled_on = paid_on
        loan.days_past_due = 0
        fields += ["state", "settled_on", "days_past_due"]
    loan.save(update_fields=fields)
    audit(
        actor=acting_user,
        action="loan.repayment",
        obj=loan,
        reason=note,
        data={
            "repayment": repayment.pk,
            "principal": str(principal),
            "outstanding_after": str(loan.outstanding),
        },
    )
    if loan.state == Loan.State.SETTLED:
        audit(actor=acting_user, action="loan.settle", obj=loan, data={"settled_on": paid_on.isoformat()})
    return repayment


# ---------------------------------------------------------------------------------------------
# Overdue ageing and the classification floor


def overdue_refresh(*, on_date: datetime.date) -> dict:
    """Days past due, overdue state and the classification floor of every open loan on `on_date`.

    A loan is past due from the earliest day something due was not paid: its principal after
    maturity while any is outstanding, or a settlement period that ended before `on_date` and has
    no payment date. The earliest date comes from one annotated query; only loans whose figures
    change are written, in chunks, so a second run the same day writes nothing."""
    earliest_unpaid = (
        Settlement.objects.filter(loan=OuterRef("pk"), paid_on__isnull=True, period_end__lt=on_date)
        .order_by("period_end")
        .values("period_end")[:1]
    )
    loans = (
        Loan.objects.filter(state__in=Loan.OPEN_STATES)
        .annotate(unpaid_from=Subquery(earliest_unpaid), county_id=F("household__village__parent__parent_id"))
        .only("pk", "state", "classification", "days_past_due", "maturity_on", "outstanding")
        .order_by("pk")
    )
    profiles = profiles_by_county(on_date)
    fallback = PolicyProfile()  # the model's defaults, for a county with no profile yet
    changed: list[Loan] = []
    changes: list[ClassificationChange] = []
    steps: list[LoanStateChange] = []
    moved: dict[str, list[int]] = {Loan.State.OVERDUE: [], Loan.State.ACTIVE: []}
    counts = {"loans": 0, "changed": 0, "reclassified": 0}
    # How many loans entered each overdue bucket today (the daily jobs page shows it).
    entered: dict[str, int] = {}
    with transaction.atomic():
        for loan in loans.iterator(chunk_size=CHUNK):
            counts["loans"] += 1
            due = [d for d in (loan.unpaid_from,) if d is not None]
            if loan.outstanding > 0 and loan.maturity_on < on_date:
                due.append(loan.maturity_on)
            days = (on_date - min(due)).days if due else 0
            state = loan.state
            if state != Loan.State.EXTENDED:
                state = Loan.State.OVERDUE if days > 0 else Loan.State.ACTIVE
            profile = profiles.get(loan.county_id)
            if profile is None:
                logger.warning(
                    "overdue_refresh: no policy profile for county %s on %s", loan.county_id, on_date
                )
                profile = fallback
            floor = classification_floor(profile, days, extended=state == Loan.State.EXTENDED)
            classification = worse(loan.classification, floor)
            if (days, state, classification) == (loan.days_past_due, loan.state, loan.classification):
                continue
            if classification != loan.classification:
                changes.append(
                    ClassificationChange(
                        loan=loan,
                        from_class=loan.classification,
                        to_class=classification,
                        floor=floor,
                        days_past_due=days,
                        reason=AUTO_REASON,
                        by=None,
                    )
                )
            if state != loan.state:
                # lifecycle.py's `overdue` (active → overdue) and `cure` (overdue → active).
                moved[state].append(loan.pk)
                steps.append(
                    LoanStateChange(
                        loan=loan,
                        transition="overdue" if state == Loan.State.OVERDUE else "cure",
                        from_state=loan.state,
                        to_state=state,
                        reason=AUTO_REASON,
                        by=None,
                    )
                )
            bucket = bucket_for(days)
            if bucket is not None and bucket != bucket_for(loan.days_past_due):
                entered[bucket.key] = entered.get(bucket.key, 0) + 1
            loan.days_past_due, loan.classification = days, classification
            changed.append(loan)
        # The ageing runs over every open loan each night, so it stays set-based: one UPDATE per
        # chunk and target state, and its history rows in bulk, rather than a transition method
        # (and a save and a history INSERT) per loan; the protected state is only ever set here
        # by the queryset update, which django-fsm allows.
        Loan.objects.bulk_update(changed, ["days_past_due", "classification"], batch_size=CHUNK)
        for state, pks in moved.items():
            for start in range(0, len(pks), CHUNK):
                Loan.objects.filter(pk__in=pks[start : start + CHUNK]).update(state=state)
        ClassificationChange.objects.bulk_create(changes, batch_size=CHUNK)
        LoanStateChange.objects.bulk_create(steps, batch_size=CHUNK)
    counts["changed"] = len(changed)
    counts["reclassified"] = len(changes)
    counts["overdue"] = len(moved[Loan.State.OVERDUE])
    counts["cured"] = len(moved[Loan.State.ACTIVE])
    counts["entered"] = entered
    return counts


# ---------------------------------------------------------------------------------------------
# Reads for the overdue list (kept beside the ageing they describe)
