"""The records of a loan's life after disbursement (贷后): post-loan checks and their photos,
extensions, insurance policies and payouts, and a borrower's death or disability. models.py imports
them, which registers them with the app; they refer to the loan by name so that this module needs
nothing from models.py.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from households.models import Member

from .choices import MONEY, Classification


class PostLoanCheck(models.Model):
    """A post-loan check (贷后检查, P1 art.43(6)): scheduled with a due date, done by a loan officer
    (helped by the village) with the use of funds, findings, photos and the classification."""

    loan = models.ForeignKey("Loan", on_delete=models.PROTECT, related_name="checks", verbose_name=_("loan"))
    due_on = models.DateField(_("due on"))
    done_on = models.DateField(_("done on"), null=True, blank=True)
    officer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("checked by"),
    )
    funds_as_agreed = models.BooleanField(_("funds used as agreed"), null=True, blank=True)
    findings = models.TextField(_("findings"), blank=True)
    classification = models.CharField(
        _("classification"), max_length=16, choices=Classification.choices, blank=True
    )
    classification_reason = models.TextField(_("reason for the classification"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("post-loan check")
        verbose_name_plural = _("post-loan checks")
        ordering = ["loan", "due_on", "id"]
        constraints = [
            # One open (not yet done) check per loan at a time.
            models.UniqueConstraint(
                fields=["loan"], condition=Q(done_on__isnull=True), name="check_one_open_per_loan"
            )
        ]

    def __str__(self):
        return f"{self.loan} {self.due_on}"


def check_photo_path(instance, filename):
    return f"checks/{instance.post_loan_check_id}/{filename}"


class CheckPhoto(models.Model):
    post_loan_check = models.ForeignKey(
        PostLoanCheck, on_delete=models.CASCADE, related_name="photos", verbose_name=_("check")
    )
    image = models.ImageField(_("photo"), upload_to=check_photo_path)
    caption = models.CharField(_("caption"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("check photo")
        verbose_name_plural = _("check photos")

    def __str__(self):
        return self.caption or self.image.name


class Extension(models.Model):
    """An extension (展期) for a borrower who cannot repay for non-subjective reasons; once only,
    within the profile's limits, approved by someone other than the officer who requested it."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    loan = models.ForeignKey(
        "Loan", on_delete=models.PROTECT, related_name="extensions", verbose_name=_("loan")
    )
    months = models.PositiveSmallIntegerField(_("extension (months)"))
    old_maturity_on = models.DateField(_("maturity before"))
    new_maturity_on = models.DateField(_("maturity after"))
    reason = models.TextField(_("reason the borrower cannot repay"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.REQUESTED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_on = models.DateField(_("requested on"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    decision_comment = models.TextField(_("decision comment"), blank=True)

    class Meta:
        verbose_name = _("extension")
        verbose_name_plural = _("extensions")
        ordering = ["loan", "requested_on", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=F("requested_by")),
                name="extension_four_eyes",
            ),
            models.CheckConstraint(
                condition=Q(new_maturity_on__gt=F("old_maturity_on")), name="extension_later"
            ),
        ]

    def __str__(self):
        return f"{self.loan} +{self.months}"


class InsurancePolicy(models.Model):
    """Insurance bought for a borrower (P1 art.41, P2 §5(5)): when an insured borrower dies or is
    disabled the insurer pays first, and only the shortfall goes to the risk fund (P1 art.21)."""

    class Kind(models.TextChoices):
        GUARANTEE = "guarantee", _("Loan guarantee insurance")
        ACCIDENT = "accident", _("Accident insurance")
        ILLNESS = "illness", _("Illness insurance")

    loan = models.ForeignKey(
        "Loan", on_delete=models.PROTECT, related_name="insurance_policies", verbose_name=_("loan")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    insurer = models.CharField(_("insurer"), max_length=100)
    policy_no = models.CharField(_("policy number"), max_length=64)
    premium = models.DecimalField(_("premium"), **MONEY)
    fiscal_paid = models.BooleanField(_("premium paid with fiscal money"), default=False)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )

    class Meta:
        verbose_name = _("insurance policy")
        verbose_name_plural = _("insurance policies")
        constraints = [
            models.UniqueConstraint(fields=["insurer", "policy_no"], name="insurance_policy_unique"),
            models.CheckConstraint(condition=Q(ends_on__gt=F("starts_on")), name="insurance_period_order"),
        ]

    def __str__(self):
        return f"{self.insurer} {self.policy_no}"


class InsurancePayout(models.Model):
    policy = models.ForeignKey(
        InsurancePolicy, on_delete=models.PROTECT, related_name="payouts", verbose_name=_("policy")
    )
    amount = models.DecimalField(_("amount paid"), validators=[MinValueValidator(Decimal("0.01"))], **MONEY)
    paid_on = models.DateField(_("paid on"))
    reason = models.TextField(_("reason"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )

    class Meta:
        verbose_name = _("insurance payout")
        verbose_name_plural = _("insurance payouts")

    def __str__(self):
        return f"{self.policy} {self.amount}"


class BorrowerEvent(models.Model):
    """A borrower's death or disability, which the risk fund's triggers build on (DOMAIN §7-8)."""

    class Kind(models.TextChoices):
        DEATH = "death", _("Death")
        DISABILITY = "disability", _("Disability")

    member = models.ForeignKey(
        Member, on_delete=models.PROTECT, related_name="events", verbose_name=_("member")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    occurred_on = models.DateField(_("occurred on"))
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("borrower event")
        verbose_name_plural = _("borrower events")
        constraints = [models.UniqueConstraint(fields=["member", "kind"], name="borrower_event_once")]

    def __str__(self):
        return f"{self.member} {self.kind}"
