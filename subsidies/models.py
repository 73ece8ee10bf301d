"""Quarterly interest-subsidy batches (财政贴息, DOMAIN §6): one batch per county and quarter, its
compute chunks, and one line per loan considered."""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField

from accounts.models import OrgUnit

from .workflow import BatchWorkflow, State, is_county_finance

MONEY = {"max_digits": 14, "decimal_places": 2}
QUARTER_END_MONTH_DAY = {1: (3, 31), 2: (6, 30), 3: (9, 30), 4: (12, 31)}


class SubsidyBatch(ConcurrentTransitionMixin, BatchWorkflow, models.Model):
    county = models.ForeignKey(
        OrgUnit,
        on_delete=models.PROTECT,
        related_name="subsidy_batches",
        limit_choices_to={"kind": "county"},
        verbose_name=_("county"),
    )
    year = models.PositiveSmallIntegerField(_("year"))
    quarter = models.PositiveSmallIntegerField(_("quarter"), choices=[(q, f"Q{q}") for q in (1, 2, 3, 4)])
    state = FSMField(_("state"), default=State.DRAFT, choices=State.choices, protected=True, db_index=True)
    # The profile in force at the quarter's end, fixed when the computation starts.
    profile = models.ForeignKey(
        "policies.PolicyProfile",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("policy profile used"),
    )
    total = models.DecimalField(_("total subsidy"), default=0, **MONEY)
    line_count = models.PositiveIntegerField(_("lines"), default=0)
    subsidized_count = models.PositiveIntegerField(_("lines with a subsidy"), default=0)
    progress_done = models.PositiveIntegerField(_("loans computed"), default=0)
    progress_total = models.PositiveIntegerField(_("loans to compute"), default=0)
    run = models.PositiveIntegerField(_("computation run"), default=0)
    # Settlements due after this day (period end) are considered; fixed when computing starts.
    considers_from = models.DateField(_("settlements considered from"), null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    computed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("computed by"),
    )
    compute_started_at = models.DateTimeField(_("computation started"), null=True, blank=True)
    computed_at = models.DateTimeField(_("computed at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("payment recorded by"),
    )
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    payment_reference = models.CharField(_("payment voucher number"), max_length=64, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("cancelled by"),
    )
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)

    class Meta:
        verbose_name = _("subsidy batch")
        verbose_name_plural = _("subsidy batches")
        ordering = ["-year", "-quarter", "county__code"]
        constraints = [
            # One live batch per county and quarter; a cancelled one may be replaced.
            models.UniqueConstraint(
                fields=["county", "year", "quarter"],
                condition=~Q(state=State.CANCELLED),
                name="subsidy_batch_one_per_quarter",
            ),
            models.CheckConstraint(condition=Q(quarter__gte=1, quarter__lte=4), name="subsidy_batch_quarter"),
            # Four-eyes (DOMAIN §6): the approver is neither who computed nor who reviewed the batch,
            # also when the system computed it. An approval always has a reviewer beside it, so
            # clearing the reviewer cannot open the way round (issue 10).
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | (
                    (Q(computed_by__isnull=True) | ~Q(approved_by=F("computed_by")))
                    & Q(reviewed_by__isnull=False)
                    & ~Q(approved_by=F("reviewed_by"))
                ),
                name="subsidy_batch_four_eyes",
            ),
            # Approved or paid only with both people recorded: a bare state change in the
            # database is not an approval.
            models.CheckConstraint(
                condition=~Q(state__in=[State.APPROVED, State.PAID])
                | Q(reviewed_by__isnull=False, approved_by__isnull=False),
                name="subsidy_batch_approved_by_two",
            ),
        ]

    def __str__(self):
        return f"{self.county} {self.year}Q{self.quarter}"

    @property
    def quarter_start(self) -> datetime.date:
        return datetime.date(self.year, 3 * self.quarter - 2, 1)

    @property
    def quarter_end(self) -> datetime.date:
        month, day = QUARTER_END_MONTH_DAY[self.quarter]
        return datetime.date(self.year, month, day)

    @property
    def progress_percent(self) -> int:
        """Loans computed in the current run, in percent; 0 for a batch never computed."""
        if self.progress_total:
            return self.progress_done * 100 // self.progress_total
        return 100 if self.computed_at else 0

    def is_county_finance(self, user) -> bool:
        return is_county_finance(user, self.county_id)

    @property
    def label(self) -> str:
        return _("%(year)d Q%(quarter)d") % {"year": self.year, "quarter": self.quarter}


class BatchChunk(models.Model):
    """A range of loan ids computed by one task. A chunk commits its lines and `done` together,
    so after a worker dies a chunk is either wholly there or not at all."""

    batch = models.ForeignKey(SubsidyBatch, on_delete=models.CASCADE, related_name="chunks")
    run = models.PositiveIntegerField()
    seq = models.PositiveIntegerField()
    # Loan ids lo <= id < hi; the first chunk starts at 0 and the last ends past every id, so the
    # chunks of a run cover every loan id whatever was inserted meanwhile.
    lo = models.BigIntegerField()
    hi = models.BigIntegerField()
    loans = models.PositiveIntegerField()
    done = models.BooleanField(default=False)
    line_count = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["batch", "run", "seq"]
        constraints = [models.UniqueConstraint(fields=["batch", "run", "seq"], name="subsidy_chunk_unique")]

    def __str__(self):
        return f"{self.batch_id}/{self.run}/{self.seq}"


class ExcludedReason(models.TextChoices):
    """Why a line has no (or no more) subsidy. Waiting reasons leave the settlement to a later
    batch; final ones decide it for good."""

    NO_SETTLEMENT = "no_settlement", _("No interest settlement due for this loan in the quarter")
    BEFORE_WINDOW = (
        "before_window",
        _(
            "Settlement period ended before what this batch considers (1 January of the year before, "
            "or the quarter of the county's first batch in this system): not subsidized by the system"
        ),
    )
    UNPAID = (
        "unpaid",
        _("Interest not yet paid by the quarter's end: subsidized by the batch after it is paid"),
    )
    INTEREST_UNCONFIRMED = (
        "interest_unconfirmed",
        _(
            "The listed interest differs from principal × rate × days ÷ 360: waits until a loan officer "
            "confirms the settlement"
        ),
    )
    BLACKLISTED = "blacklisted", _("Household on the blacklist during this period: no subsidy")
    BLACKLISTED_NOW = "blacklisted_now", _("Household on the blacklist: withheld while it stays there")
    NO_CAP_RATE = (
        "no_cap_rate",
        _("No cap rate recorded for the contract date: waits until the rate is entered"),
    )
    AFTER_MATURITY = (
        "after_maturity",
        _("Period after the loan's maturity: what accrues then is penalty interest, never subsidized"),
    )
    OUTSIDE_SUPPORT = "outside_support", _("Period outside the subsidy support period")
    OVER_HOUSEHOLD_CAP = (
        "over_household_cap",
        _("The household's other loans outstanding in the period already use the subsidized principal"),
    )
    NOTHING_PAID = "nothing_paid", _("No interest was paid for this period")
    NO_SHARE = "no_share", _("The county's subsidy share is zero")
    BELOW_ONE_CENT = "below_one_cent", _("The subsidy rounds to less than one cent")


WAITING_REASONS = (
    ExcludedReason.UNPAID,
    ExcludedReason.INTEREST_UNCONFIRMED,
    ExcludedReason.BLACKLISTED_NOW,
    ExcludedReason.NO_CAP_RATE,
)


class ReducedReason(models.TextChoices):
    """Why a line with a subsidy gets less than its whole period or principal: the days after the
    maturity date, the days outside the support period, or the household cap."""

    AFTER_MATURITY = (
        "after_maturity",
        _("Days after the loan's maturity are not subsidized (penalty interest accrues then)"),
    )
    OUTSIDE_SUPPORT = "outside_support", _("Days outside the subsidy support period are not subsidized")
    HOUSEHOLD_CAP = (
        "household_cap",
        _("Only part of the principal is subsidized: the household's other loans use the rest of the cap"),
    )


class SubsidyLine(models.Model):
    """One settlement of a loan considered by a batch, or, for a loan with no settlement due in the
    quarter, the loan alone. Written only by the compute SQL in services.py.

    `claimed` marks a line that decides its settlement (a subsidy, or a final exclusion). The
    partial unique index makes "each settlement is subsidized at most once, ever" a property of
    the database: no two claiming lines, in any batches, name the same settlement."""

    # Indexes cost every line written (a province's quarter is millions): only the composite ones
    # below, which serve the batch pages and the compute SQL, and the claim index.
    # No foreign-key constraints in the database either (db_constraint=False; Django's PROTECT
    # still guards deletes through the ORM): checking five keys per line cost more than computing
    # the line (bench/subsidy.py: 47 s → 23 s for 1,000,000 loans). A line is written only by the
    # INSERT … SELECT in compute.py, which takes every id from the rows it joins in that statement,
    # and loans, settlements, households and units are never deleted.
    batch = models.ForeignKey(
        SubsidyBatch, on_delete=models.PROTECT, related_name="lines", db_index=False, db_constraint=False
    )
    loan = models.ForeignKey(
        "loans.Loan",
        on_delete=models.PROTECT,
        related_name="subsidy_lines",
        db_index=False,
        db_constraint=False,
    )
    household = models.ForeignKey(
        "households.Household",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    village = models.ForeignKey(
        OrgUnit, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    settlement = models.ForeignKey(
        "loans.Settlement",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subsidy_lines",
        db_index=False,
        db_constraint=False,
    )
    period_start = models.DateField(_("period start"), null=True)
    period_end = models.DateField(_("period end"), null=True)
    paid_on = models.DateField(_("interest paid on"), null=True)
    period_days = models.IntegerField(_("days in the settlement period"), default=0)
    days = models.IntegerField(_("days subsidized"), default=0)
    principal = models.DecimalField(_("principal"), default=0, **MONEY)
    subsidized_principal = models.DecimalField(_("subsidized principal"), default=0, **MONEY)
    contract_rate = models.DecimalField(_("contract rate (%)"), max_digits=6, decimal_places=4, null=True)
    cap_rate = models.DecimalField(_("cap rate (%)"), max_digits=6, decimal_places=4, null=True)
    rate_used = models.DecimalField(_("rate used (%)"), max_digits=6, decimal_places=4, null=True)
    interest_paid = models.DecimalField(_("interest paid"), default=0, **MONEY)
    penalty_paid = models.DecimalField(
        _("penalty and compound interest paid (never subsidized)"), default=0, **MONEY
    )
    subsidy = models.DecimalField(_("subsidy"), default=0, **MONEY)
    excluded_reason = models.CharField(
        _("reason for no subsidy"), max_length=24, choices=ExcludedReason.choices, blank=True
    )
    reduced_reason = models.CharField(
        _("why the subsidy covers less"), max_length=24, choices=ReducedReason.choices, blank=True
    )
    claimed = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("subsidy line")
        verbose_name_plural = _("subsidy lines")
        ordering = ["batch", "loan", "period_start"]
        indexes = [
            models.Index(fields=["batch", "loan"], name="subsidy_line_batch_loan"),
            models.Index(fields=["batch", "village"], name="subsidy_line_batch_village"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["settlement"], condition=Q(claimed=True), name="subsidy_settlement_once"
            ),
            models.CheckConstraint(condition=Q(subsidy__gte=0), name="subsidy_line_nonnegative"),
            # A line has a subsidy or says why not, never both.
            models.CheckConstraint(
                condition=(Q(subsidy__gt=0) & Q(excluded_reason=""))
                | (Q(subsidy=0) & ~Q(excluded_reason="")),
                name="subsidy_line_reason_iff_zero",
            ),
        ]

    def __str__(self):
        return f"{self.batch} {self.loan_id} {self.period_start}"
