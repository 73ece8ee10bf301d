"""The risk-compensation fund (风险补偿金, DOMAIN §8; P1 arts. 37-40): one fund per county and
co-operating bank, kept as an immutable double-entry ledger; loss claims on defaulted loans; and the
recoveries the bank collects afterwards, whose fund share goes back within 5 working days.

The ledger is our own three tables rather than a double-entry library: django-hordak (the
maintained one) brings django-money, multi-currency accounts and its own account tree, while this
fund needs five fixed accounts per fund in yuan, and the two rules that matter — entries never
change and a transaction's legs sum to zero — are enforced by the database (django-pgtrigger, which
the audit trail already uses) with the balance check under the fund's row lock."""

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import F, Q, Value
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField

from accounts.models import OrgUnit
from loans.models import Loan

from .workflow import ClaimWorkflow, State

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")
HALF_FEN = Decimal("0.005")


def _same_to_the_fen(field: str, total) -> Q:
    """`field` = `total` for amounts to the fen. Stated as "within half a fen" because the embedded
    SQLite of `make run` adds decimals in floating point (24987.65 + 6246.92 is not exactly
    31234.57 there); on PostgreSQL's exact numeric it is plain equality."""
    return Q(**{f"{field}__gt": total - Value(HALF_FEN), f"{field}__lt": total + Value(HALF_FEN)})


class RiskFund(models.Model):
    """The co-managed special account (共管账户) of one county at one co-operating bank, kept as a
    separate ledger and never used as a guarantee deposit (P1 art.37)."""

    county = models.ForeignKey(
        OrgUnit,
        on_delete=models.PROTECT,
        related_name="risk_funds",
        limit_choices_to={"kind": "county"},
        verbose_name=_("county"),
    )
    bank = models.ForeignKey(
        OrgUnit,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"kind": "bank"},
        verbose_name=_("co-operating bank"),
    )
    name = models.CharField(_("name"), max_length=100)
    account_no = models.CharField(_("co-managed account number"), max_length=40)
    opened_on = models.DateField(_("opened on"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("risk-compensation fund")
        verbose_name_plural = _("risk-compensation funds")
        ordering = ["county__code", "bank__code"]
        constraints = [
            models.UniqueConstraint(fields=["county", "bank"], name="riskfund_one_per_county_bank")
        ]

    def __str__(self):
        return self.name


class Account(models.TextChoices):
    """The fund's ledger accounts. FUND is the money in the co-managed account; the others are
    where it came from or went, so every movement is a FUND leg and its counterpart."""

    FUND = "fund", _("Co-managed fund account")
    COUNTY = "county", _("County fiscal contributions")
    INTEREST = "interest", _("Interest earned")
    COMPENSATION = "compensation", _("Compensation paid to the bank")
    RECOVERY = "recovery", _("Recoveries returned by the bank")


# Immutability: entries and transactions are never updated or deleted (a mistake is corrected by a
# reversing transaction). pgtrigger on PostgreSQL; migration 0002 adds plain triggers on SQLite.
_APPEND_ONLY = pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)


class LedgerTransaction(models.Model):
    class Kind(models.TextChoices):
        DEPOSIT = "deposit", _("Deposit by the county")
        INTEREST = "interest", _("Interest earned")
        COMPENSATION = "compensation", _("Compensation paid")
        RECOVERY = "recovery", _("Recovery returned")
        WITHDRAWAL = "withdrawal", _("Withdrawal by the county")
        REVERSAL = "reversal", _("Reversal")

    fund = models.ForeignKey(
        RiskFund, on_delete=models.PROTECT, related_name="transactions", verbose_name=_("fund")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    booked_on = models.DateField(_("booked on"))
    memo = models.TextField(_("memo"))
    reference = models.CharField(_("bank reference"), max_length=64, blank=True)
    # A reversal names the transaction it cancels; each transaction is reversed at most once.
    reverses = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
        verbose_name=_("reverses"),
    )
    claim = models.ForeignKey(
        "CompensationClaim",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("claim"),
    )
    recovery = models.ForeignKey(
        "Recovery",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("recovery"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("entered by")
    )
    created_at = models.DateTimeField(_("entered at"), auto_now_add=True)

    class Meta:
        verbose_name = _("ledger transaction")
        verbose_name_plural = _("ledger transactions")
        ordering = ["booked_on", "id"]
        indexes = [models.Index(fields=["fund", "booked_on"])]
        triggers = [_APPEND_ONLY]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class LedgerEntry(models.Model):
    """One leg: a signed amount on one account. FUND legs are positive when money comes into the
    co-managed account; a transaction's legs sum to zero."""

    transaction = models.ForeignKey(
        LedgerTransaction, on_delete=models.PROTECT, related_name="entries", verbose_name=_("transaction")
    )
    fund = models.ForeignKey(
        RiskFund, on_delete=models.PROTECT, related_name="entries", verbose_name=_("fund")
    )
    account = models.CharField(_("account"), max_length=16, choices=Account.choices)
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["transaction_id", "id"]
        indexes = [models.Index(fields=["fund", "account"])]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_not_zero")]
        triggers = [
            _APPEND_ONLY,
            # Checked at commit, when every leg of the transaction is in.
            pgtrigger.Trigger(
                name="balanced",
                when=pgtrigger.After,
                operation=pgtrigger.Insert,
                timing=pgtrigger.Deferred,
                func=(
                    "IF (SELECT SUM(amount) FROM riskfund_ledgerentry"
                    " WHERE transaction_id = NEW.transaction_id) <> 0"
                    " THEN RAISE EXCEPTION 'ledger transaction % does not balance', NEW.transaction_id;"
                    " END IF; RETURN NULL;"
                ),
            ),
            # A backstop for the services' row lock: the co-managed account never goes below zero.
            pgtrigger.Trigger(
                name="fund_not_negative",
                when=pgtrigger.After,
                operation=pgtrigger.Insert,
                timing=pgtrigger.Deferred,
                condition=pgtrigger.Q(new__account="fund", new__amount__lt=0),
                func=(
                    "IF (SELECT SUM(amount) FROM riskfund_ledgerentry WHERE fund_id = NEW.fund_id"
                    " AND account = 'fund') < 0 THEN RAISE EXCEPTION 'risk fund % would go below zero',"
                    " NEW.fund_id; END IF; RETURN NULL;"
                ),
            ),
        ]

    def __str__(self):
        return f"{self.get_account_display()} {self.amount}"


class CompensationClaim(ConcurrentTransitionMixin, ClaimWorkflow, models.Model):
    """A loss claim on one loan (DOMAIN §8): the bank files it once its trigger has come; the
    county office reviews it, the fund committee decides it, finance pays the fund's share."""

    class Trigger(models.TextChoices):
        ENTRUSTED = "entrusted", _("Cooperative or entrusted loan unrecovered after pursuit")
        DEATH = "death", _("Borrower died; unrecovered after maturity")
        DEFAULT = "default", _("Other default: overdue past the profile's period")

    class RemainderTo(models.TextChoices):
        FUND = "fund", _("The fund")
        BANK = "bank", _("The bank")

    fund = models.ForeignKey(
        RiskFund, on_delete=models.PROTECT, related_name="claims", verbose_name=_("fund")
    )
    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, related_name="compensation_claims", verbose_name=_("loan")
    )
    state = FSMField(_("state"), default=State.FILED, choices=State.choices, protected=True, db_index=True)
    trigger = models.CharField(_("trigger"), max_length=16, choices=Trigger.choices)
    # The first day the trigger allowed filing (the profile's waiting period after maturity or
    # overdue), fixed when filed.
    eligible_on = models.DateField(_("claimable from"))
    profile = models.ForeignKey(
        "policies.PolicyProfile",
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("policy profile used"),
    )
    principal = models.DecimalField(_("principal outstanding"), **MONEY)
    interest = models.DecimalField(_("interest outstanding"), **MONEY)
    insurance_paid = models.DecimalField(_("paid by insurance"), **MONEY)
    loss = models.DecimalField(_("loss"), **MONEY)
    fund_ratio = models.DecimalField(_("fund's share of the loss"), max_digits=5, decimal_places=4)
    remainder_to = models.CharField(
        _("rounding remainder goes to"), max_length=8, choices=RemainderTo.choices
    )
    fund_share = models.DecimalField(_("fund's share"), **MONEY)
    bank_share = models.DecimalField(_("bank's share"), **MONEY)
    statement = models.TextField(_("bank's statement"), help_text=_("How the bank pursued the debt."))

    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("filed by")
    )
    filed_at = models.DateTimeField(_("filed at"), auto_now_add=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decision recorded by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    # The committee members present at the decision, as the minutes name them.
    committee_members = models.TextField(_("committee members who decided"), blank=True)
    decision_no = models.CharField(_("decision number"), max_length=64, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("paid by"),
    )
    paid_on = models.DateField(_("paid on"), null=True, blank=True)

    class Meta:
        verbose_name = _("compensation claim")
        verbose_name_plural = _("compensation claims")
        ordering = ["-filed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=_same_to_the_fen("loss", F("fund_share") + F("bank_share")),
                name="claim_split_exact",
            ),
            models.CheckConstraint(
                condition=_same_to_the_fen("loss", F("principal") + F("interest") - F("insurance_paid")),
                name="claim_loss_formula",
            ),
            models.CheckConstraint(condition=Q(loss__gt=0), name="claim_loss_positive"),
            # One claim in flight or paid per loan; a rejected or withdrawn one may be filed again.
            models.UniqueConstraint(
                fields=["loan"],
                condition=Q(state__in=["filed", "reviewed", "approved", "paid"]),
                name="claim_one_live_per_loan",
            ),
        ]

    def __str__(self):
        return _("Claim #%(no)d") % {"no": self.pk}


class ClaimHistory(models.Model):
    claim = models.ForeignKey(
        CompensationClaim, on_delete=models.CASCADE, related_name="history", verbose_name=_("claim")
    )
    transition = models.CharField(_("step"), max_length=32)
    from_state = models.CharField(_("from state"), max_length=16, choices=State.choices, blank=True)
    to_state = models.CharField(_("to state"), max_length=16, choices=State.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    comment = models.TextField(_("comment"), blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("claim history")
        verbose_name_plural = _("claim history")
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.transition}: {self.from_state} → {self.to_state}"


class Recovery(models.Model):
    """Money the bank collected on a compensated loan (P1 art.40): split in the claim's ratio; the
    fund's share is due back in the co-managed account within the profile's working days."""

    claim = models.ForeignKey(
        CompensationClaim, on_delete=models.PROTECT, related_name="recoveries", verbose_name=_("claim")
    )
    amount = models.DecimalField(_("amount recovered"), **MONEY)
    received_on = models.DateField(_("received on"))
    fund_share = models.DecimalField(_("fund's share"), **MONEY)
    bank_share = models.DecimalField(_("bank's share"), **MONEY)
    due_on = models.DateField(_("fund's share due back by"))
    returned_on = models.DateField(_("returned on"), null=True, blank=True)
    note = models.TextField(_("note"), blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    returned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("return recorded by"),
    )

    class Meta:
        verbose_name = _("recovery")
        verbose_name_plural = _("recoveries")
        ordering = ["-received_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="recovery_positive"),
            models.CheckConstraint(
                condition=_same_to_the_fen("amount", F("fund_share") + F("bank_share")),
                name="recovery_split_exact",
            ),
            models.CheckConstraint(
                condition=Q(due_on__gte=F("received_on")), name="recovery_due_after_receipt"
            ),
        ]

    def __str__(self):
        return _("Recovery #%(no)d") % {"no": self.pk}
