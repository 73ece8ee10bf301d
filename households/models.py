from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import OrgUnit

from . import idnumbers

MONEY = {"max_digits": 14, "decimal_places": 2}


class Household(models.Model):
    """A registered poor household (建档立卡贫困户) or one under monitoring (监测对象)."""

    class PovertyStatus(models.TextChoices):
        NOT_EXITED = "not_exited", _("Not yet exited poverty")
        EXITED = "exited", _("Exited poverty")
        MONITORED_EDGE = "monitored_edge", _("Monitored: at risk of poverty")
        MONITORED_SUDDEN = "monitored_sudden", _("Monitored: sudden severe hardship")

    MONITORED = (PovertyStatus.MONITORED_EDGE, PovertyStatus.MONITORED_SUDDEN)

    registration_no = models.CharField(
        _("registration number"), max_length=32, unique=True, help_text=_("建档立卡 number.")
    )
    village = models.ForeignKey(
        OrgUnit,
        on_delete=models.PROTECT,
        related_name="households",
        limit_choices_to={"kind": "village"},
        verbose_name=_("village"),
    )
    poverty_status = models.CharField(
        _("poverty status"), max_length=20, choices=PovertyStatus.choices, default=PovertyStatus.NOT_EXITED
    )
    exited_on = models.DateField(_("exited on"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    # The electronic file's summary (P1 art.42): assets, liabilities, business and income.
    assets = models.DecimalField(
        _("assets (yuan)"), default=Decimal("0"), validators=[MinValueValidator(0)], **MONEY
    )
    debts = models.DecimalField(
        _("debts (yuan)"), default=Decimal("0"), validators=[MinValueValidator(0)], **MONEY
    )
    annual_income = models.DecimalField(
        _("annual family income (yuan)"), default=Decimal("0"), validators=[MinValueValidator(0)], **MONEY
    )
    business = models.CharField(_("business"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["village__code", "registration_no"]

    def __str__(self):
        return self.registration_no

    @property
    def is_monitored(self) -> bool:
        return self.poverty_status in self.MONITORED


class Member(models.Model):
    """A household member. The ID number is stored encrypted with a keyed hash beside it; the
    masked form and the birth date (for age) are derived from it when it is set."""

    class Relation(models.TextChoices):
        HEAD = "head", _("Head of household")
        SPOUSE = "spouse", _("Spouse")
        CHILD = "child", _("Child")
        PARENT = "parent", _("Parent")
        GRANDCHILD = "grandchild", _("Grandchild")
        SIBLING = "sibling", _("Sibling")
        OTHER = "other", _("Other")

    class Labour(models.TextChoices):
        FULL = "full", _("Full labour capacity")
        PARTIAL = "partial", _("Partial labour capacity")
        NONE = "none", _("No labour capacity")

    household = models.ForeignKey(
        Household, on_delete=models.CASCADE, related_name="members", verbose_name=_("household")
    )
    name = models.CharField(_("name"), max_length=50)
    id_number_encrypted = models.TextField(_("ID number (encrypted)"), editable=False)
    id_number_hash = models.CharField(_("ID number hash"), max_length=64, unique=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=18, editable=False)
    birth_date = models.DateField(_("birth date"), editable=False)
    is_male = models.BooleanField(_("male"), editable=False)
    relation = models.CharField(_("relation to head"), max_length=16, choices=Relation.choices)
    is_head = models.BooleanField(_("head of household"), default=False)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    labour_capacity = models.CharField(
        _("labour capacity"), max_length=16, choices=Labour.choices, default=Labour.FULL
    )

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["household", "-is_head", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["household"], condition=Q(is_head=True), name="member_one_head_per_household"
            )
        ]

    def __str__(self):
        return self.name

    def set_id_number(self, info: idnumbers.IdInfo) -> None:
        self.id_number_encrypted = idnumbers.encrypt(info.number)
        self.id_number_hash = idnumbers.lookup_hash(info.number)
        self.id_number_masked = idnumbers.mask(info.number)
        self.birth_date = info.birth_date
        self.is_male = info.is_male

    @property
    def id_number(self) -> str:
        return idnumbers.decrypt(self.id_number_encrypted)

    def age_on(self, on) -> int:
        return idnumbers.age_on(self.birth_date, on)


class CreditRating(models.Model):
    """The bank's rating of a household (评级授信): score, grade, credit line and validity."""

    class Grade(models.TextChoices):
        AAA = "AAA", "AAA"
        AA = "AA", "AA"
        A = "A", "A"
        NONE = "none", _("Not rated (below the lowest band)")

    household = models.ForeignKey(
        Household, on_delete=models.CASCADE, related_name="ratings", verbose_name=_("household")
    )
    # The five dimensions of the common 100-point scheme (DOMAIN §2). They are empty when a bank
    # sends only the total from its own scoring system through the API.
    DIMENSIONS = ("score_integrity", "score_labour", "score_income", "score_project", "score_assets")

    score_integrity = models.PositiveSmallIntegerField(_("integrity"), null=True, blank=True)
    score_labour = models.PositiveSmallIntegerField(_("labour and skills"), null=True, blank=True)
    score_income = models.PositiveSmallIntegerField(_("family income"), null=True, blank=True)
    score_project = models.PositiveSmallIntegerField(_("project"), null=True, blank=True)
    score_assets = models.PositiveSmallIntegerField(_("assets and debts"), null=True, blank=True)
    score = models.PositiveSmallIntegerField(_("score"))
    grade = models.CharField(_("grade"), max_length=8, choices=Grade.choices)
    credit_limit = models.DecimalField(_("credit line"), **MONEY)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"))
    profile = models.ForeignKey(
        "policies.PolicyProfile", on_delete=models.PROTECT, related_name="+", verbose_name=_("policy profile")
    )
    branch = models.ForeignKey(
        OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("bank branch")
    )
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("rated by")
    )
    rated_at = models.DateTimeField(_("rated at"), auto_now_add=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("credit rating")
        verbose_name_plural = _("credit ratings")
        ordering = ["household", "-valid_from", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_from__lte=models.F("valid_to")), name="rating_valid_order"
            ),
            models.CheckConstraint(condition=Q(credit_limit__gte=0), name="rating_limit_nonnegative"),
            models.CheckConstraint(
                condition=Q(
                    score_integrity__isnull=True,
                    score_labour__isnull=True,
                    score_income__isnull=True,
                    score_project__isnull=True,
                    score_assets__isnull=True,
                )
                | Q(
                    score_integrity__isnull=False,
                    score_labour__isnull=False,
                    score_income__isnull=False,
                    score_project__isnull=False,
                    score_assets__isnull=False,
                ),
                name="rating_dimensions_all_or_none",
            ),
        ]

    def __str__(self):
        return f"{self.household} {self.grade} {self.credit_limit}"

    def is_valid_on(self, on) -> bool:
        return self.grade != self.Grade.NONE and self.valid_from <= on <= self.valid_to

    @property
    def has_dimensions(self) -> bool:
        return self.score_integrity is not None


class BlacklistEntry(models.Model):
    """A household on the blacklist (P1 art.22) until removed with a reason. Removal keeps the row."""

    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="blacklist_entries", verbose_name=_("household")
    )
    reason = models.TextField(_("reason"))
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("added by")
    )
    added_at = models.DateTimeField(_("added at"), auto_now_add=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("removed by"),
    )
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    removal_reason = models.TextField(_("reason for removal"), blank=True)

    class Meta:
        verbose_name = _("blacklist entry")
        verbose_name_plural = _("blacklist entries")
        ordering = ["-added_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["household"], condition=Q(removed_at__isnull=True), name="blacklist_one_active"
            )
        ]

    def __str__(self):
        return f"{self.household}: {self.reason[:30]}"

    @property
    def is_active(self) -> bool:
        return self.removed_at is None

    @property
    def pending_removal(self):
        """The removal request awaiting a second person's decision, if any (one query)."""
        return self.removal_requests.filter(state="pending").select_related("requested_by").first()


class BlacklistRemovalRequest(models.Model):
    """A request to take a household off the blacklist, decided by a second person (four-eyes,
    ASVS V2.3.5; DOMAIN §5). P1 art.22 keeps a malicious defaulter listed until the debt is repaid,
    so the request says whether every loan of the household is settled or, if not, which exception
    is claimed; only an approval by someone other than the requester lifts the entry."""

    class Basis(models.TextChoices):
        SETTLED = "settled", _("The debt is settled")
        EXCEPTION = "exception", _("Exception (stated in the reason)")

    class State(models.TextChoices):
        PENDING = "pending", _("Awaiting approval")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    entry = models.ForeignKey(
        BlacklistEntry,
        on_delete=models.PROTECT,
        related_name="removal_requests",
        verbose_name=_("blacklist entry"),
    )
    basis = models.CharField(_("basis"), max_length=16, choices=Basis.choices)
    reason = models.TextField(_("reason for removal"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_comment = models.TextField(_("comment on the decision"), blank=True)

    class Meta:
        verbose_name = _("blacklist removal request")
        verbose_name_plural = _("blacklist removal requests")
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One open request per entry: a second one would only split the approvers' attention.
            models.UniqueConstraint(
                fields=["entry"], condition=Q(state="pending"), name="blacklist_removal_one_pending"
            ),
            # A decision has a decider and a time; a pending request has neither.
            models.CheckConstraint(
                condition=Q(state="pending", decided_by__isnull=True, decided_at__isnull=True)
                | Q(state__in=["approved", "rejected"], decided_by__isnull=False, decided_at__isnull=False),
                name="blacklist_removal_decided",
            ),
            # Four-eyes at the database too: whoever asked never decides.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("requested_by")),
                name="blacklist_removal_four_eyes",
            ),
            models.CheckConstraint(
                condition=Q(basis__in=["settled", "exception"]), name="blacklist_removal_basis"
            ),
        ]

    def __str__(self):
        return f"{self.entry.household}: {self.get_state_display()}"
