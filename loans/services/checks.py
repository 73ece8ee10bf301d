"""Post-loan checks (贷后检查, P1 art.43(6)) and the five-level classification (五级分类, DOMAIN §5).

Every open loan always has one open check: the first due within the profile's months after
disbursement, each later one an interval after the last check done. Recording a check sets the
classification, which may be worse than the floor from days past due (and special mention for an
extended loan) but never better; every change is kept with the floor it was judged against."""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from core import uploads
from core.audit import audit
from core.exceptions import ApplicationError, ConflictError, NotPermitted, rule_failed
from policies.models import PolicyProfile
from policies.selectors import county_of, profile_for, profiles_by_county

from ..choices import CLASSIFICATION_ORDER, Classification
from ..classification import at_least, classification_floor
from ..models import CheckPhoto, ClassificationChange, Extension, Loan, PostLoanCheck

logger = logging.getLogger(__name__)

CHUNK = 1000
FLOOR_SOURCE = "《商业银行金融资产风险分类办法》(2023); DOMAIN §5; P1 art.43(6)"


# ---------------------------------------------------------------------------------------------
# Who may do what


def can_record_checks(user) -> bool:
    """Loan officers and administrators record checks; village cadres help but do not sign."""
    return bool(getattr(user, "is_authenticated", False)) and user.has_role(Role.LOAN_OFFICER, Role.ADMIN)


def not_permitted_message() -> str:
    return _("Only a loan officer of the loan's branch or an administrator may record a post-loan check.")


def _require_recorder(user, loan: Loan) -> None:
    if user.has_role(Role.ADMIN):
        return
    if not (user.has_role(Role.LOAN_OFFICER) and user.unit_id == loan.branch_id):
        raise NotPermitted(not_permitted_message())


# ---------------------------------------------------------------------------------------------
# Scheduling


def _add_months(day: datetime.date, months: int) -> datetime.date:
    # relativedelta keeps the day of the month, or the month's last day (31 Aug + 6 → 28/29 Feb).
    return day + relativedelta(months=months)


def check_schedule_ensure(*, on_date: datetime.date) -> int:
    """Give every open loan without an open check its next one; return how many loans lacked one.

    The first check is due the profile's first-check months after disbursement, later ones the
    check interval after the last check done. Loans are read in one annotated query and the
    checks written with bulk_create; the one-open-check-per-loan constraint makes a concurrent
    or repeated run add nothing (ON CONFLICT DO NOTHING)."""
    open_check = PostLoanCheck.objects.filter(loan=OuterRef("pk"), done_on__isnull=True)
    last_done = (
        PostLoanCheck.objects.filter(loan=OuterRef("pk"), done_on__isnull=False)
        .order_by("-done_on")
        .values("done_on")[:1]
    )
    loans = (
        Loan.objects.filter(state__in=Loan.OPEN_STATES)
        .filter(~Exists(open_check))
        .annotate(last_done=Subquery(last_done), county_id=F("household__village__parent__parent_id"))
        .values_list("pk", "disbursed_on", "last_done", "county_id")
        .order_by("pk")
    )
    profiles = profiles_by_county(on_date)
    fallback = PolicyProfile()  # the model's defaults, for a county with no profile yet
    created = 0
    batch: list[PostLoanCheck] = []

    def flush():
        nonlocal created
        if batch:
            # A loan given its open check meanwhile (a check recorded, a second run) is skipped by
            # the constraint rather than failing the whole batch.
            PostLoanCheck.objects.bulk_create(batch, ignore_conflicts=True)
            created += len(batch)
            batch.clear()

    for pk, disbursed_on, last_done_on, county_id in loans.iterator(chunk_size=CHUNK):
        profile = profiles.get(county_id)
        if profile is None:
            logger.warning("check_schedule_ensure: no policy profile for county %s on %s", county_id, on_date)
            profile = fallback
        if last_done_on is None:
            due_on = _add_months(disbursed_on, profile.first_check_within_months)
        else:
            due_on = _add_months(last_done_on, profile.check_interval_months)
        batch.append(PostLoanCheck(loan_id=pk, due_on=due_on))
        if len(batch) >= CHUNK:
            flush()
    flush()
    return created


# ---------------------------------------------------------------------------------------------
# The classification floor


@dataclass(frozen=True)
class Floor:
    classification: str
    days_past_due: int
    extended: bool
    profile: PolicyProfile

    @property
    def label(self) -> str:
        return str(Classification(self.classification).label)

    @property
    def why(self) -> str:
        days = {"days": self.days_past_due}
        if self.days_past_due > 0 and self.extended:
            return _("the loan is %(days)d days past due and has been extended (展期)") % days
        if self.days_past_due > 0:
            return _("the loan is %(days)d days past due") % days
        if self.extended:
            return _("the loan has been extended (展期)")
        return _("the loan is not past due")

    def allows(self, classification: str) -> bool:
        return at_least(classification, self.classification)

    def choices(self) -> list[tuple[str, str]]:
        start = CLASSIFICATION_ORDER.index(self.classification)
        return [(c.value, c.label) for c in Classification][start:]


def classification_floor_for(*, loan: Loan, on_date: datetime.date) -> Floor:
    """The best classification `loan` may have: the floor by its days past due from the county's
    profile, and at least special mention once it has been extended (DOMAIN §5)."""
    profile = profile_for(county=county_of(loan.household.village), on_date=on_date)
    days = loan.days_past_due
    extended = (
        loan.state == Loan.State.EXTENDED or loan.extensions.filter(status=Extension.Status.APPROVED).exists()
    )
    floor = classification_floor(profile, days, extended=extended)
    return Floor(classification=floor, days_past_due=days, extended=extended, profile=profile)


def _floor_broken(floor: Floor, classification: str) -> ApplicationError:
    error = rule_failed(
        "classification_floor",
        _(
            "The classification cannot be better than %(floor)s, because %(why)s. The officer may "
            "classify worse, never better (《商业银行金融资产风险分类办法》, 2023)."
        )
        % {"floor": floor.label, "why": floor.why},
        FLOOR_SOURCE,
        field="classification",
    )
    error.extra["rules"][0].update(
        floor=floor.classification,
        requested=classification,
        days_past_due=floor.days_past_due,
        extended=floor.extended,
    )
    return error


# ---------------------------------------------------------------------------------------------
# Recording a check


@transaction.atomic
def check_record(
    *,
    acting_user,
    check: PostLoanCheck,
    done_on: datetime.date,
    funds_as_agreed: bool,
    findings: str,
    classification: str,
    classification_reason: str = "",
    photos=(),
) -> PostLoanCheck:
    """Record a check: use of funds, findings, photos and the classification; then schedule the
    next one. The classification may not be better than the floor; a change needs a reason."""
    if not can_record_checks(acting_user):
        raise NotPermitted(not_permitted_message())
    # Lock the loan first (as repayments and the daily ageing do): a check recorded while a
    # repayment settles the loan, or two officers saving the same check, take turns, and the
    # second sees the first's classification and the check already done.
    loan = Loan.objects.select_for_update().select_related("household__village").get(pk=check.loan_id)
    check = PostLoanCheck.objects.select_for_update().get(pk=check.pk)
    _require_recorder(acting_user, loan)
    if check.done_on is not None:
        raise ConflictError(_("This check has already been recorded."), "check_done")
    if loan.state not in Loan.OPEN_STATES:
        raise ConflictError(
            _("This loan is %(state)s; no check can be recorded.") % {"state": loan.get_state_display()},
            "loan_closed",
        )
    findings = (findings or "").strip()
    if not findings:
        raise ApplicationError(_("Write down what the check found."), "invalid", field="findings")
    if done_on > timezone.localdate():
        raise ApplicationError(_("The check date cannot be in the future."), "invalid", field="done_on")
    if done_on < loan.disbursed_on:
        raise ApplicationError(
            _("The check date cannot be before the disbursement on %(date)s.") % {"date": loan.disbursed_on},
            "invalid",
            field="done_on",
        )
    if classification not in CLASSIFICATION_ORDER:
        raise ApplicationError(_("Choose a classification."), "invalid", field="classification")
    floor = classification_floor_for(loan=loan, on_date=done_on)
    if not floor.allows(classification):
        raise _floor_broken(floor, classification)
    reason = (classification_reason or "").strip()
    changed = classification != loan.classification
    if changed and not reason:
        raise ApplicationError(
            _("Give the reason for changing the classification from %(old)s to %(new)s.")
            % {"old": loan.get_classification_display(), "new": Classification(classification).label},
            "invalid",
            field="classification_reason",
        )
    # Photos are stored re-encoded, without the metadata (GPS) the upload carried; one that is not
    # a JPEG or PNG within the limits refuses the check before anything is written (core/uploads.py).
    uploads.check_photo_count(photos)
    stored_photos = [uploads.photo_for_storage(image) for image in photos]

    check.done_on = done_on
    check.officer = acting_user
    check.funds_as_agreed = bool(funds_as_agreed)
    check.findings = findings
    check.classification = classification
    check.classification_reason = reason
    check.save(
        update_fields=[
            "done_on",
            "officer",
            "funds_as_agreed",
            "findings",
            "classification",
            "classification_reason",
        ]
    )
    photo_ids = []
    for image in stored_photos:
        photo = CheckPhoto(post_loan_check=check, image=image, uploaded_by=acting_user)
        photo.full_clean()
        photo.save()
        photo_ids.append(photo.pk)
    if changed:
        ClassificationChange.objects.create(
            loan=loan,
            from_class=loan.classification,
            to_class=classification,
            floor=floor.classification,
            days_past_due=floor.days_past_due,
            reason=reason,
            by=acting_user,
        )
        old = loan.classification
        loan.classification = classification
        loan.save(update_fields=["classification"])
        audit(
            actor=acting_user,
            action="loan.classify",
            obj=loan,
            reason=reason,
            data={"from": old, "to": classification, "floor": floor.classification, "check": check.pk},
        )
    next_check = PostLoanCheck.objects.create(
        loan=loan, due_on=_add_months(done_on, floor.profile.check_interval_months)
    )
    audit(
        actor=acting_user,
        action="loan.check",
        obj=loan,
        reason=reason,
        data={
            "check": check.pk,
            "done_on": done_on.isoformat(),
            "funds_as_agreed": check.funds_as_agreed,
            "classification": classification,
            "floor": floor.classification,
            "days_past_due": floor.days_past_due,
            "photos": photo_ids,
            "next_check": next_check.pk,
            "next_due_on": next_check.due_on.isoformat(),
        },
    )
    return check
