from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin

from accounts.models import OrgUnit
from households.models import Household, Member

from .choices import MONEY, Classification, UseMode
from .interest import interest_for, period_days
from .lifecycle import LoanLifecycle

# The after-loan models live in models_postloan.py; importing them here registers them with the
# app as a models package would, keeps `loans.models` the one place every loan model is imported
# from, and keeps check_photo_path where migration 0005 finds it.
from .models_postloan import (  # noqa: F401
    BorrowerEvent,
    CheckPhoto,
    Extension,
    InsurancePayout,
    InsurancePolicy,
    PostLoanCheck,
    check_photo_path,
)
from .purposes import Purpose
from .workflow import ApplicationWorkflow, State


class LoanApplication(ConcurrentTransitionMixin, ApplicationWorkflow, models.Model):
    """A household's application (贫困户专项贷款业务申请表, P1 art.11) and its journey through
    village review, publicity and the bank. The state moves only through the transitions in
    workflow.py, called by services.py."""

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="applications", verbose_name=_("household")
    )
    borrower = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="applications", verbose_name=_("borrower")
    )
    amount = models.DecimalField(_("amount (yuan)"), validators=[MinValueValidator(Decimal("0.01"))], **MONEY)
    term_months = models.PositiveSmallIntegerField(_("term (months)"))
    purpose_category = models.CharField(_("purpose"), max_length=32, choices=Purpose.choices)
    purpose_detail = models.TextField(_("project description"), blank=True)
    use_mode = models.CharField(_("use mode"), max_length=16, choices=UseMode.choices, default=UseMode.SELF)
    entity_name = models.CharField(_("implementing entity"), max_length=200, blank=True)
    entity_attested = models.BooleanField(
        _("entity registered, with a local settlement account, creditworthy and without open lawsuits"),
        default=False,
    )
    capacity_attested = models.BooleanField(
        _("borrower has full civil capacity and labour or business capacity"), default=False
    )
    bank_account_no = models.CharField(_("account at the lending bank"), max_length=40, blank=True)
    consent_publicity = models.BooleanField(_("borrower consents to publicity"), default=False)
    consent_credit_query = models.BooleanField(
        _("borrower consents to the credit report query"), default=False
    )

    state = FSMField(_("state"), default=State.DRAFT, choices=State.choices, protected=True, db_index=True)
    branch = models.ForeignKey(
        OrgUnit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="applications",
        verbose_name=_("bank branch"),
        help_text=_("The branch serving the household's township."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("entered by")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    submitted_on = models.DateField(_("submitted on"), null=True, blank=True)

    # Bank acceptance and pre-loan investigation (受理, 贷前调查)
    investigated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("investigating officer"),
    )
    investigated_on = models.DateField(_("investigated on"), null=True, blank=True)
    investigation_findings = models.TextField(_("investigation findings"), blank=True)

    # Review and approval (审查审批)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("approver"),
    )
    approved_on = models.DateField(_("approved on"), null=True, blank=True)
    approved_amount = models.DecimalField(_("approved amount"), null=True, blank=True, **MONEY)
    approved_term_months = models.PositiveSmallIntegerField(
        _("approved term (months)"), null=True, blank=True
    )
    rate = models.DecimalField(_("annual rate (%)"), max_digits=6, decimal_places=4, null=True, blank=True)
    rate_basis = models.CharField(_("rate basis"), max_length=16, blank=True)

    decision_reason = models.TextField(_("reason for rejection or withdrawal"), blank=True)

    class Kind(models.TextChoices):
        NEW = "new", _("New loan")
        RENEWAL = "renewal", _("Renewal (续贷)")
        ADDITIONAL = "additional", _("Additional loan (追加贷款)")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.NEW)
    # The loan a renewal replaces or an additional loan adds to.
    related_loan = models.ForeignKey(
        "Loan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="follow_up_applications",
        verbose_name=_("related loan"),
    )

    class Meta:
        verbose_name = _("loan application")
        verbose_name_plural = _("loan applications")
        ordering = ["-created_at", "-id"]
        constraints = [
            # Four-eyes (DOMAIN §4.5): the approver is never the investigating officer.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | Q(investigated_by__isnull=True)
                | ~Q(approved_by=F("investigated_by")),
                name="application_four_eyes",
            ),
            models.CheckConstraint(
                condition=Q(approved_amount__isnull=True) | Q(approved_amount__lte=F("amount")),
                name="application_approved_not_above_requested",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.household} {self.amount}"


class ApplicationHistory(models.Model):
    """One row per transition: who, when, from, to and why."""

    application = models.ForeignKey(
        LoanApplication, on_delete=models.CASCADE, related_name="history", verbose_name=_("application")
    )
    transition = models.CharField(_("transition"), max_length=32)
    from_state = models.CharField(_("from state"), max_length=32, choices=State.choices)
    to_state = models.CharField(_("to state"), max_length=32, choices=State.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("application history")
        verbose_name_plural = _("application history")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.application_id}: {self.from_state} → {self.to_state}"


class PublicityNotice(models.Model):
    """A notice at one level (village, township, county) for the profile's number of working days."""

    class Level(models.TextChoices):
        VILLAGE = "village", _("Village")
        TOWNSHIP = "township", _("Township")
        COUNTY = "county", _("County")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        ENDED = "ended", _("Ended without objection")
        SUSPENDED = "suspended", _("Suspended by an objection")
        CANCELLED = "cancelled", _("Cancelled: application withdrawn")

    application = models.ForeignKey(
        LoanApplication, on_delete=models.CASCADE, related_name="notices", verbose_name=_("application")
    )
    level = models.CharField(_("level"), max_length=16, choices=Level.choices)
    start_on = models.DateField(_("posted on"))
    end_on = models.DateField(_("ends on"))
    working_days = models.PositiveSmallIntegerField(_("working days"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("posted by")
    )

    class Meta:
        verbose_name = _("publicity notice")
        verbose_name_plural = _("publicity notices")
        ordering = ["application", "start_on", "level"]
        indexes = [models.Index(fields=["status", "end_on"])]

    def __str__(self):
        return f"{self.application_id} {self.level} {self.start_on}–{self.end_on}"


class Objection(models.Model):
    application = models.ForeignKey(
        LoanApplication, on_delete=models.CASCADE, related_name="objections", verbose_name=_("application")
    )
    notice = models.ForeignKey(
        PublicityNotice,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="objections",
        verbose_name=_("notice"),
    )
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    objector = models.CharField(_("objector"), max_length=100, blank=True, help_text=_("Who raised it."))
    text = models.TextField(_("objection"))
    raised_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("objection")
        verbose_name_plural = _("objections")
        ordering = ["-raised_at"]

    def __str__(self):
        return self.text[:40]


def investigation_photo_path(instance, filename):
    return f"investigations/{instance.application_id}/{filename}"


class InvestigationPhoto(models.Model):
    application = models.ForeignKey(
        LoanApplication, on_delete=models.CASCADE, related_name="photos", verbose_name=_("application")
    )
    image = models.ImageField(_("photo"), upload_to=investigation_photo_path)
    caption = models.CharField(_("caption"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("investigation photo")
        verbose_name_plural = _("investigation photos")

    def __str__(self):
        return self.caption or self.image.name


class Loan(FSMModelMixin, LoanLifecycle, models.Model):
    """A loan: created at disbursement (发放), or imported from the bank's books (存量贷款).
    The state moves only through the transitions in lifecycle.py (and the overnight ageing's
    set-based update); it is given only at creation.

    FSMModelMixin lets refresh_from_db reload the protected state (django-fsm-2 4.2.4 refuses
    it otherwise, as LoanApplication gets it through ConcurrentTransitionMixin). Not the
    concurrent mixin itself: every step already runs on a row locked with select_for_update,
    and its save-time state filter would refuse saves the loan takes today after a set-based
    update of its state."""

    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        OVERDUE = "overdue", _("Overdue")
        EXTENDED = "extended", _("Extended")
        SETTLED = "settled", _("Settled")
        COMPENSATED = "compensated", _("Compensated")
        WRITTEN_OFF = "written_off", _("Written off")

    OPEN_STATES = (State.ACTIVE, State.OVERDUE, State.EXTENDED)

    application = models.OneToOneField(
        LoanApplication,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="loan",
        verbose_name=_("application"),
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="loans", verbose_name=_("household")
    )
    borrower = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="loans", verbose_name=_("borrower")
    )
    branch = models.ForeignKey(
        OrgUnit, on_delete=models.PROTECT, related_name="loans", verbose_name=_("bank branch")
    )
    contract_no = models.CharField(_("contract number"), max_length=64, unique=True)
    receipt_no = models.CharField(_("receipt number"), max_length=64, unique=True)
    # The borrower's account the bank debits interest from and credits the subsidy to.
    account_no = models.CharField(_("borrower's account number"), max_length=40, blank=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    rate = models.DecimalField(_("annual rate (%)"), max_digits=6, decimal_places=4)
    rate_basis = models.CharField(_("rate basis"), max_length=16)
    term_months = models.PositiveSmallIntegerField(_("term (months)"))
    disbursed_on = models.DateField(_("disbursed on"))
    maturity_on = models.DateField(_("matures on"))
    use_mode = models.CharField(_("use mode"), max_length=16, choices=UseMode.choices)
    # Blank only for imported loans whose bank list gives no purpose.
    purpose_category = models.CharField(_("purpose"), max_length=32, choices=Purpose.choices, blank=True)
    outstanding = models.DecimalField(_("outstanding principal"), **MONEY)
    state = FSMField(
        _("state"), max_length=16, choices=State.choices, default=State.ACTIVE, protected=True, db_index=True
    )
    classification = models.CharField(
        _("classification"), max_length=16, choices=Classification.choices, default=Classification.NORMAL
    )
    days_past_due = models.PositiveIntegerField(_("days past due"), default=0)
    imported = models.BooleanField(_("imported from the bank's books"), default=False)
    entity_name = models.CharField(_("cooperative or entrusted entity"), max_length=200, blank=True)
    # The loan this one renews or continues (续贷, 展期): the subsidy support period follows the
    # chain from its first loan (DOMAIN §6, P1 art.24).
    original_loan = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="continuations",
        verbose_name=_("renews or continues"),
    )
    settled_on = models.DateField(_("settled on"), null=True, blank=True)
    disbursed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("disbursed by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        ordering = ["-disbursed_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(outstanding__gte=0) & Q(outstanding__lte=F("amount")),
                name="loan_outstanding_range",
            ),
            models.CheckConstraint(
                condition=Q(maturity_on__gt=F("disbursed_on")), name="loan_maturity_after_disbursement"
            ),
        ]

    def __str__(self):
        return self.contract_no

    def clean_fields(self, exclude=None):
        """Django's clean_fields sets every field back on the instance, which the protected state
        refuses; the state is validated here without being set."""
        exclude = set(exclude or ())
        errors = {}
        if "state" not in exclude:
            try:
                self._meta.get_field("state").clean(self.state, self)
            except ValidationError as e:
                errors["state"] = e.error_list
        try:
            super().clean_fields(exclude=exclude | {"state"})
        except ValidationError as e:
            errors = e.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)


class LoanStateChange(models.Model):
    """One row per step of a loan's lifecycle (lifecycle.py): who, when, from, to and why. The
    first says how the loan began (disburse or import), from a blank from_state. The overnight
    ageing writes its rows in bulk, without a person."""

    loan = models.ForeignKey(
        Loan, on_delete=models.CASCADE, related_name="state_changes", verbose_name=_("loan")
    )
    transition = models.CharField(_("transition"), max_length=32)
    from_state = models.CharField(_("from state"), max_length=16, choices=Loan.State.choices)
    to_state = models.CharField(_("to state"), max_length=16, choices=Loan.State.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("loan state change")
        verbose_name_plural = _("loan state changes")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.loan_id}: {self.from_state} → {self.to_state}"


class Settlement(models.Model):
    """One interest settlement period of a loan (结息), from the bank's settlement list or entered
    by hand. `paid_on` empty means the borrower has not paid it yet."""

    class Source(models.TextChoices):
        IMPORT = "import", _("Bank settlement list")
        MANUAL = "manual", _("Entered by hand")

    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, related_name="settlements", verbose_name=_("loan")
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    principal = models.DecimalField(_("principal"), **MONEY)
    rate = models.DecimalField(_("annual rate (%)"), max_digits=6, decimal_places=4)
    interest_due = models.DecimalField(_("interest due"), **MONEY)
    interest_paid = models.DecimalField(_("interest paid"), default=Decimal("0"), **MONEY)
    penalty_paid = models.DecimalField(_("penalty and compound interest paid"), default=Decimal("0"), **MONEY)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=Source.choices)
    source_file = models.CharField(_("source file"), max_length=200, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    # The interest check of services/settlements.py: a flagged settlement waits for a loan officer's
    # confirmation, and the subsidy computation pays nothing on it until then.
    needs_review = models.BooleanField(
        _("interest differs from principal × rate × days ÷ 360; not subsidized until confirmed"),
        default=False,
    )
    review_note = models.TextField(_("review note"), blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("interest settlement")
        verbose_name_plural = _("interest settlements")
        ordering = ["loan", "period_start"]
        # A period is [period_start, period_end): the end day is not counted (算头不算尾,
        # loans/interest.py). On PostgreSQL an exclusion constraint (migration 0007) also keeps a
        # loan's periods from overlapping, so no day is subsidized twice (DOMAIN §6).
        constraints = [
            models.UniqueConstraint(
                fields=["loan", "period_start", "period_end"], name="settlement_one_per_period"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")), name="settlement_period_order"
            ),
            models.CheckConstraint(
                condition=Q(principal__gte=0, interest_due__gte=0, interest_paid__gte=0, penalty_paid__gte=0),
                name="settlement_amounts_nonnegative",
            ),
        ]

    def __str__(self):
        return f"{self.loan} {self.period_start}–{self.period_end}"

    @property
    def days(self) -> int:
        return period_days(self.period_start, self.period_end)

    @property
    def expected_interest(self) -> Decimal:
        """principal × rate% × days ÷ 360 on this settlement's own figures (loans/interest.py)."""
        return interest_for(self.principal, self.rate, self.days)


class Repayment(models.Model):
    """A principal repayment; the one that brings the outstanding to zero settles the loan (结清)."""

    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, related_name="repayments", verbose_name=_("loan")
    )
    paid_on = models.DateField(_("paid on"))
    principal = models.DecimalField(_("principal repaid"), **MONEY)
    outstanding_after = models.DecimalField(_("outstanding after"), **MONEY)
    reason = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("repayment")
        verbose_name_plural = _("repayments")
        ordering = ["loan", "paid_on", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(principal__gt=0), name="repayment_positive"),
            models.CheckConstraint(
                condition=Q(outstanding_after__gte=0), name="repayment_outstanding_nonnegative"
            ),
        ]

    def __str__(self):
        return f"{self.loan} {self.paid_on} {self.principal}"


class ClassificationChange(models.Model):
    """Every change of a loan's five-level classification, with the floor it was judged against."""

    loan = models.ForeignKey(
        Loan, on_delete=models.CASCADE, related_name="classification_changes", verbose_name=_("loan")
    )
    from_class = models.CharField(_("from"), max_length=16, choices=Classification.choices)
    to_class = models.CharField(_("to"), max_length=16, choices=Classification.choices)
    floor = models.CharField(_("floor by days past due"), max_length=16, choices=Classification.choices)
    days_past_due = models.PositiveIntegerField(_("days past due"))
    reason = models.TextField(_("reason"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("classification change")
        verbose_name_plural = _("classification changes")
        ordering = ["loan", "at", "id"]

    def __str__(self):
        return f"{self.loan}: {self.from_class} → {self.to_class}"
