"""Writes of the subsidy batch: create, compute (in chunks, on Celery), review, approve, pay,
cancel (DOMAIN §6). Every step locks the batch row, takes its transition and leaves an audit
record in the same transaction."""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import OrgUnit, Role
from core import fsm
from core.audit import audit
from core.exceptions import ApplicationError, ConflictError, NotPermitted, rule_failed
from core.models import Notice
from policies.exceptions import CalendarMissing
from policies.models import PolicyProfile
from policies.selectors import add_working_days, profile_for

from . import compute, notices, selectors
from .models import BatchChunk, SubsidyBatch, SubsidyLine
from .workflow import STEP_LABELS, State, is_county_finance

log = logging.getLogger(__name__)

SOURCE = "DOMAIN §6; P2 §5(3)"


def _today() -> datetime.date:
    return timezone.localdate()


def quarter_of(day: datetime.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def previous_quarter(year: int, quarter: int) -> tuple[int, int]:
    return (year, quarter - 1) if quarter > 1 else (year - 1, 4)


def _lock(batch: SubsidyBatch) -> SubsidyBatch:
    """Re-read the batch under a row lock (core/fsm.py): a second request for the same batch
    waits until the first commits, then sees the new state and is refused (409)."""
    return fsm.lock(batch, related=("county",))


class TransitionNotAllowed(ConflictError):
    def __init__(self, batch: SubsidyBatch, name: str):
        super().__init__(
            _(
                "This step (%(step)s) cannot be taken while the batch is “%(state)s”; "
                "it may have changed meanwhile."
            )
            % {"step": STEP_LABELS.get(name, name), "state": batch.get_state_display()},
            "transition_not_allowed",
            {"state": batch.state, "transition": name},
        )


def _denied(batch: SubsidyBatch, name: str, acting_user) -> NotPermitted:
    if name == "approve" and acting_user.pk in (batch.computed_by_id, batch.reviewed_by_id):
        message = (
            _("Four-eyes rule: the batch was computed by you, so someone else must approve it.")
            if acting_user.pk == batch.computed_by_id
            else _("Four-eyes rule: you reviewed the batch, so someone else must approve it.")
        )
        return NotPermitted(
            message,
            "four_eyes",
            {"rules": [{"rule": "four_eyes", "message": str(message), "source": SOURCE}]},
        )
    return NotPermitted(_("Only the finance staff of the batch's county may take this step."))


def _guard(batch: SubsidyBatch, name: str, acting_user, *, system=False) -> None:
    """Refuse transition `name` from the wrong state (409) or to the wrong person (403)."""
    fsm.guard(batch, name, acting_user, system=system, not_allowed=TransitionNotAllowed, denied=_denied)


def _take(
    batch: SubsidyBatch, name: str, acting_user, *, reason: str = "", data: dict | None = None, system=False
):
    """Take transition `name` on a locked batch and record it (an audit record)."""

    def record(batch: SubsidyBatch, name: str, from_state: str, by) -> None:
        audit(
            actor=by,
            action=f"subsidy_batch.{name}",
            obj=batch,
            reason=reason,
            data={"from": from_state, "to": batch.state, **(data or {})},
        )

    fsm.take(
        batch,
        name,
        acting_user,
        system=system,
        record=record,
        not_allowed=TransitionNotAllowed,
        denied=_denied,
    )
    # The finance staff's notice about the batch says what it is now (issue 14).
    notices.batch_state_changed(batch)


# ---- create ------------------------------------------------------------------------------------


def batch_create(
    *, acting_user, county: OrgUnit, year: int, quarter: int, system: bool = False
) -> SubsidyBatch:
    """A draft batch for one county and one quarter (DOMAIN §6). Refused for a quarter not yet
    over, a quarter the county's frequency does not pay in, a second live batch of the quarter,
    and a quarter before one the county already has a batch for (batches go in order, so a late
    payment is always picked up by the next batch, never by an earlier one)."""
    if not system and not is_county_finance(acting_user, county.pk):
        raise NotPermitted(_("Only the finance staff of the county may create its subsidy batches."))
    if quarter not in (1, 2, 3, 4):
        raise ApplicationError(
            _("The quarter is 1, 2, 3 or 4."),
            "invalid",
            {"fields": {"quarter": [_("The quarter is 1, 2, 3 or 4.")]}},
        )
    probe = SubsidyBatch(county=county, year=year, quarter=quarter)
    if probe.quarter_end >= _today():
        raise rule_failed(
            "quarter_not_over",
            _("%(label)s is not over yet: a batch is computed after the quarter's end.")
            % {"label": probe.label},
            SOURCE,
            field="quarter",
        )
    profile = _profile(county, probe.quarter_end)
    if profile.subsidy_frequency == PolicyProfile.Frequency.YEARLY and quarter != 4:
        raise rule_failed(
            "yearly_subsidy",
            _("This county pays the subsidy once a year: create the Q4 batch, which covers the whole year."),
            "DOMAIN §6; P2 §5(3)4",
            field="quarter",
        )
    live = SubsidyBatch.objects.filter(county=county).exclude(state=State.CANCELLED)
    later = (
        live.filter(Q(year__gt=year) | Q(year=year, quarter__gt=quarter)).order_by("year", "quarter").first()
    )
    if later is not None:
        raise rule_failed(
            "batch_order",
            _("The county already has the batch of %(later)s; batches are computed in order of quarters.")
            % {"later": later.label},
            SOURCE,
            field="quarter",
        )
    with transaction.atomic():
        if live.filter(year=year, quarter=quarter).exists():
            raise ConflictError(
                _("The county already has a batch for %(label)s.") % {"label": probe.label}, "conflict"
            )
        batch = SubsidyBatch.objects.create(
            county=county, year=year, quarter=quarter, created_by=None if system else acting_user
        )
        audit(actor=None if system else acting_user, action="subsidy_batch.create", obj=batch)
    return batch


def _profile(county: OrgUnit, on_date: datetime.date) -> PolicyProfile:
    return profile_for(county=county, on_date=on_date)


# ---- compute -----------------------------------------------------------------------------------


def params_for(batch: SubsidyBatch, *, today: datetime.date | None = None) -> compute.Params:
    profile = batch.profile
    return compute.Params(
        batch_id=batch.pk,
        county_id=batch.county_id,
        quarter_start=batch.quarter_start,
        quarter_end=batch.quarter_end,
        lookback_from=batch.considers_from - datetime.timedelta(days=1),
        today=today or _today(),
        cap_basis=profile.subsidy_cap_basis,
        share=profile.subsidy_share,
        years=profile.subsidy_years,
        household_cap=profile.subsidized_principal_max,
    )


def considers_from(batch: SubsidyBatch, profile: PolicyProfile) -> datetime.date:
    """The first period end a batch considers. A late payment is picked up by a later batch, back
    to the start of the year before (应贴尽贴, P2 §5(3)4), but never before what the county's first
    batch in this system covers: its quarter, or its year for a county that pays yearly. Older
    settlements in the books (imported with the existing loans) were subsidized, or not, before
    the county used this system, and paying them again would pay public money twice."""
    first = (
        SubsidyBatch.objects.filter(county_id=batch.county_id)
        .exclude(state=State.CANCELLED)
        .order_by("year", "quarter")
        .first()
    ) or batch
    if profile.subsidy_frequency == PolicyProfile.Frequency.YEARLY:
        floor = datetime.date(first.year, 1, 1)
    else:
        floor = first.quarter_start
    return max(datetime.date(batch.year - 1, 1, 1), floor)


def batch_compute(*, acting_user, batch: SubsidyBatch, system: bool = False) -> SubsidyBatch:
    """Start a computation run: split the county's loans into chunks and queue one task per
    chunk. Allowed from draft and, to redo it, from computed; never after review (send it back
    first) and never once paid."""
    with transaction.atomic():
        batch = _lock(batch)
        _guard(batch, "compute", acting_user, system=system)
        later = (
            SubsidyBatch.objects.filter(county_id=batch.county_id)
            .exclude(state=State.CANCELLED)
            .filter(Q(year__gt=batch.year) | Q(year=batch.year, quarter__gt=batch.quarter))
            .order_by("year", "quarter")
            .first()
        )
        if later is not None:
            raise rule_failed(
                "batch_order",
                _(
                    "The county already has the batch of %(later)s, which may have taken this quarter's "
                    "late payments; an earlier quarter is not computed again."
                )
                % {"later": later.label},
                SOURCE,
            )
        batch.profile = _profile(batch.county, batch.quarter_end)
        batch.considers_from = considers_from(batch, batch.profile)
        batch.run += 1
        batch.computed_by = None if system else acting_user
        batch.compute_started_at = timezone.now()
        batch.computed_at = None
        batch.reviewed_by = batch.approved_by = None
        batch.reviewed_at = batch.approved_at = None
        batch.total = Decimal("0.00")
        batch.line_count = batch.subsidized_count = 0
        bounds, total = compute.chunk_bounds(county_id=batch.county_id, size=settings.SUBSIDY_CHUNK_LOANS)
        batch.progress_done = 0
        batch.progress_total = total
        _take(batch, "compute", acting_user, system=system, data={"run": batch.run, "loans": total})
        BatchChunk.objects.filter(batch=batch).delete()
        BatchChunk.objects.bulk_create(
            BatchChunk(batch=batch, run=batch.run, seq=i, lo=lo, hi=hi, loans=n)
            for i, (lo, hi, n) in enumerate(bounds)
        )
        if not bounds:
            # A county with no loans: nothing to queue, the batch is computed at once.
            _finish(batch)
        else:
            transaction.on_commit(lambda: _dispatch(batch.pk, batch.run))
    return batch


def batch_resume(*, acting_user, batch: SubsidyBatch, system: bool = False) -> int:
    """Queue again the chunks of the current run that are not done: after a worker died, or its
    message was lost. Chunks already done are skipped by the task itself, so sending one twice
    is harmless. Returns the number of chunks queued."""
    with transaction.atomic():
        batch = _lock(batch)
        _take(batch, "resume", acting_user, system=system, data={"run": batch.run})
        pending = BatchChunk.objects.filter(batch=batch, run=batch.run, done=False).count()
        transaction.on_commit(lambda: _dispatch(batch.pk, batch.run))
    return pending


def _dispatch(batch_id: int, run: int) -> None:
    from .tasks import compute_chunk

    ids = list(BatchChunk.objects.filter(batch_id=batch_id, run=run, done=False).values_list("pk", flat=True))
    options = {"queue": settings.SUBSIDY_QUEUE} if settings.SUBSIDY_QUEUE else {}
    for chunk_id in ids:
        compute_chunk.apply_async(args=[chunk_id], **options)
    if not ids:
        batch_finish_if_done(batch_id=batch_id)


def chunk_compute(*, chunk_id: int, today: datetime.date | None = None) -> bool:
    """Compute one chunk: its lines and `done` commit together, or not at all. Returns False when
    there was nothing to do (the chunk is done already, belongs to an older run, or the batch left
    the computing state), so a task delivered twice writes nothing the second time."""
    chunk = BatchChunk.objects.filter(pk=chunk_id).values("batch_id").first()
    if chunk is None:
        return False
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(compute.lock_batch_sql(), [chunk["batch_id"]])
            state, run = cursor.fetchone()
        # Two deliveries of the same chunk queue up here; the second finds it done. Only the
        # chunk's row: the default ordering joins the batch, whose row FOR UPDATE would make
        # concurrent chunks (each holding it FOR KEY SHARE) wait for each other or deadlock.
        chunk = BatchChunk.objects.select_for_update(of=("self",)).filter(pk=chunk_id).first()
        if chunk is None or chunk.done or state != State.COMPUTING or chunk.run != run:
            return False
        batch = SubsidyBatch.objects.select_related("profile").get(pk=chunk.batch_id)
        written = compute.compute_range(params_for(batch, today=today), chunk.lo, chunk.hi)
        chunk.done = True
        chunk.line_count = written
        chunk.finished_at = timezone.now()
        chunk.save(update_fields=["done", "line_count", "finished_at"])
    return True


def batch_finish_if_done(*, batch_id: int) -> bool:
    """Count the done chunks into the batch's progress; when all are done, total the lines and
    move the batch to computed. Any number of workers may call this at once: the row lock lets one
    at a time in, and only the first to see every chunk done finishes the batch."""
    with transaction.atomic():
        # FOR NO KEY UPDATE: the chunks writing their lines hold the batch FOR KEY SHARE
        # (compute.lock_batch_sql), which this lock neither waits for nor makes wait.
        try:
            batch = fsm.lock(SubsidyBatch(pk=batch_id), no_key=True)
        except SubsidyBatch.DoesNotExist:
            return False
        if batch.state != State.COMPUTING:
            return False
        chunks = BatchChunk.objects.filter(batch=batch, run=batch.run).aggregate(
            loans=Sum("loans", filter=Q(done=True)), pending=Count("pk", filter=Q(done=False))
        )
        batch.progress_done = chunks["loans"] or 0
        if chunks["pending"]:
            SubsidyBatch.objects.filter(pk=batch.pk).update(progress_done=batch.progress_done)
            return False
        _finish(batch)
        return True


def _finish(batch: SubsidyBatch) -> None:
    totals = SubsidyLine.objects.filter(batch=batch).aggregate(
        total=Sum("subsidy"), lines=Count("pk"), subsidized=Count("pk", filter=Q(subsidy__gt=0))
    )
    batch.total = totals["total"] or Decimal("0.00")
    batch.line_count = totals["lines"]
    batch.subsidized_count = totals["subsidized"]
    batch.progress_done = batch.progress_total
    batch.computed_at = timezone.now()
    _take(
        batch,
        "finish",
        None,
        system=True,
        data={"run": batch.run, "total": str(batch.total), "lines": batch.line_count},
    )


# ---- review, approve, pay, cancel ----------------------------------------------------------------


def _require_accounts(batch: SubsidyBatch) -> None:
    """Every line to be paid names the borrower's account the bank credits: a payment file with
    a blank account would send public money nowhere (DOMAIN §3 account at the lending bank)."""
    missing = selectors.contracts_missing_account(batch)
    listed = list(missing[: MISSING_ACCOUNTS_LISTED + 1])
    if not listed:
        return
    count = missing.count() if len(listed) > MISSING_ACCOUNTS_LISTED else len(listed)
    contracts = "、".join(listed[:MISSING_ACCOUNTS_LISTED]) + (
        "……" if count > MISSING_ACCOUNTS_LISTED else ""
    )
    raise rule_failed(
        "account_missing",
        _(
            "%(count)d loans with a subsidy to pay have no borrower account (contracts %(contracts)s). "
            "The bank enters each loan's account (on the loan's page, or in the existing-loan import) "
            "before the batch is reviewed."
        )
        % {"count": count, "contracts": contracts},
        "DOMAIN §3 (account at the lending bank); P3 §3.6",
        extra={"contracts": listed[:MISSING_ACCOUNTS_LISTED], "count": count},
    )


# How many contracts a refusal names; the line list filters show the rest.
MISSING_ACCOUNTS_LISTED = 20


def batch_review(*, acting_user, batch: SubsidyBatch, comment: str = "") -> SubsidyBatch:
    with transaction.atomic():
        batch = _lock(batch)
        # The role and state first, so a refusal of the accounts is only ever shown to the staff
        # who may review.
        _guard(batch, "review", acting_user)
        _require_accounts(batch)
        batch.reviewed_by = acting_user
        batch.reviewed_at = timezone.now()
        _take(batch, "review", acting_user, reason=comment)
    return batch


def batch_send_back(*, acting_user, batch: SubsidyBatch, reason: str) -> SubsidyBatch:
    """A reviewer or approver finds a problem: back to computed, so it can be recomputed."""
    reason = fsm.require_reason(reason, "reason")
    with transaction.atomic():
        batch = _lock(batch)
        batch.reviewed_by = batch.approved_by = None
        batch.reviewed_at = batch.approved_at = None
        _take(batch, "send_back", acting_user, reason=reason)
    return batch


def batch_approve(*, acting_user, batch: SubsidyBatch, comment: str = "") -> SubsidyBatch:
    """Four-eyes (DOMAIN §6): the approver is not the person who computed the batch."""
    with transaction.atomic():
        batch = _lock(batch)
        batch.approved_by = acting_user
        batch.approved_at = timezone.now()
        _take(batch, "approve", acting_user, reason=comment, data={"total": str(batch.total)})
    return batch


def batch_pay(
    *, acting_user, batch: SubsidyBatch, paid_on: datetime.date, reference: str = "", comment: str = ""
) -> SubsidyBatch:
    """Record that the money went out. Final: a paid batch is never recomputed or cancelled."""
    if paid_on is None:
        raise ApplicationError(
            _("Enter the payment date."), "invalid", {"fields": {"paid_on": [_("Enter the payment date.")]}}
        )
    if paid_on > _today():
        raise ApplicationError(
            _("The payment date cannot be in the future."),
            "invalid",
            {"fields": {"paid_on": [_("The payment date cannot be in the future.")]}},
            field="paid_on",
        )
    with transaction.atomic():
        batch = _lock(batch)
        batch.paid_by = acting_user
        batch.paid_on = paid_on
        batch.payment_reference = (reference or "").strip()
        _take(
            batch,
            "pay",
            acting_user,
            reason=comment,
            data={
                "total": str(batch.total),
                "paid_on": paid_on.isoformat(),
                "reference": batch.payment_reference,
            },
        )
    return batch


def batch_cancel(*, acting_user, batch: SubsidyBatch, reason: str) -> SubsidyBatch:
    """Cancel before payment: the lines stay for the record but let go of their settlements,
    which the next batch considers again."""
    reason = fsm.require_reason(reason, "reason")
    with transaction.atomic():
        batch = _lock(batch)
        batch.cancelled_by = acting_user
        batch.cancel_reason = reason
        _take(batch, "cancel", acting_user, reason=reason)
        released = SubsidyLine.objects.filter(batch=batch, claimed=True).update(claimed=False)
    log.info("Batch %s cancelled, %s settlements released", batch.pk, released)
    return batch


# ---- the quarterly run ---------------------------------------------------------------------------


def first_working_day_after(day: datetime.date) -> datetime.date:
    """The first working day after `day`, from the working-day calendar. Raises CalendarMissing
    when the calendar lacks a year it has to look into: never a Monday-to-Friday guess, which
    would put the Q4 batch on New Year's Day without anyone being told (DOMAIN §4.3)."""
    return add_working_days(day + datetime.timedelta(days=1), 1)


def _calendar_missing_title(year: int, quarter: int, missing_year: int) -> str:
    return _("The %(label)s subsidy batches wait for the %(year)s working-day calendar") % {
        "label": SubsidyBatch(year=year, quarter=quarter).label,
        "year": missing_year,
    }


def _calendar_missing_notice(year: int, quarter: int, error: CalendarMissing) -> None:
    """Tell the administrators and the finance staff of every county, once, that the quarterly
    run is waiting for the calendar (the task itself tries again every day)."""
    title = _calendar_missing_title(year, quarter, error.year)
    counties = OrgUnit.objects.filter(kind=OrgUnit.Kind.COUNTY, policy_profiles__isnull=False).distinct()
    for county in counties:
        for role in (Role.ADMIN, Role.FINANCE):
            Notice.objects.get_or_create(
                unit=county,
                role=role,
                title=title,
                defaults={"body": error.message, "url": reverse("policies:calendar")},
            )


def quarterly_batches_ensure(*, on_date: datetime.date | None = None) -> list[int]:
    """Daily, from beat: from the first working day after a quarter ends, every county with a
    profile gets the batch of that quarter, computed, and its finance staff a notice on their
    dashboard. A county that already has a batch for the quarter (even a cancelled one) is left
    alone, so running twice, or after someone cancelled the batch on purpose, creates nothing.
    Returns the ids of the batches created."""
    today = on_date or _today()
    year, quarter = previous_quarter(*quarter_of(today))
    probe = SubsidyBatch(year=year, quarter=quarter)
    try:
        first_day = first_working_day_after(probe.quarter_end)
    except CalendarMissing as error:
        log.error("Quarterly subsidy batches of %sQ%s wait: %s", year, quarter, error.message)
        _calendar_missing_notice(year, quarter, error)
        return []
    # The calendar is there now: a notice that the run was waiting for it has done its job.
    Notice.objects.filter(
        title__in=[_calendar_missing_title(year, quarter, y) for y in (year, year + 1)],
        url=reverse("policies:calendar"),
    ).delete()
    if today < first_day:
        return []
    created = []
    counties = OrgUnit.objects.filter(kind=OrgUnit.Kind.COUNTY, policy_profiles__isnull=False).distinct()
    for county in counties.order_by("code"):
        if SubsidyBatch.objects.filter(county=county, year=year, quarter=quarter).exists():
            continue
        try:
            profile = _profile(county, probe.quarter_end)
        except ApplicationError:
            continue
        if profile.subsidy_frequency == PolicyProfile.Frequency.YEARLY and quarter != 4:
            continue
        try:
            with transaction.atomic():
                batch = batch_create(acting_user=None, county=county, year=year, quarter=quarter, system=True)
                Notice.objects.create(
                    unit=county,
                    role=Role.FINANCE,
                    title=_("The interest subsidy batch of %(label)s is being computed")
                    % {"label": batch.label},
                    body=_(
                        "The system created and started computing the batch for %(label)s. Review it, have "
                        "someone else approve it, then pay it and export the lists."
                    )
                    % {"label": batch.label},
                    url=reverse("subsidies:batch_detail", args=[batch.pk]),
                )
                batch_compute(acting_user=None, batch=batch, system=True)
        except ApplicationError as error:
            log.warning("No subsidy batch for %s %sQ%s: %s", county, year, quarter, error.message)
            continue
        created.append(batch.pk)
    return created


def batches_resume_stalled(*, older_than: datetime.timedelta = datetime.timedelta(minutes=15)) -> list[int]:
    """Every few minutes, from beat: a batch computing for longer than `older_than` with chunks
    not done gets them queued again (a worker was killed, a message lost). Harmless when they are
    only slow: a chunk delivered twice is computed once. Returns the ids of the batches resumed."""
    cutoff = timezone.now() - older_than
    stalled = list(
        SubsidyBatch.objects.filter(state=State.COMPUTING, compute_started_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    resumed = []
    for pk in stalled:
        try:
            batch_resume(acting_user=None, batch=SubsidyBatch(pk=pk), system=True)
        except TransitionNotAllowed:
            # Its last chunk finished (or someone cancelled it) since the list was read: nothing
            # to resume, and no reason to leave the other batches stalled.
            continue
        resumed.append(pk)
    return resumed


def batch_of_chunk(chunk_id: int) -> int | None:
    return BatchChunk.objects.filter(pk=chunk_id).values_list("batch_id", flat=True).first()
