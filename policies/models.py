from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import OrgUnit


def default_publicity_levels():
    return ["village", "township", "county"]


class PolicyProfile(models.Model):
    """Every number of DOMAIN §3, §5, §6 and §8 for one county, from `effective_from` until the
    next profile of the county takes over. Profiles are append-only: a change is a new profile
    with a later date, so a decision already taken under an older one is never rewritten."""

    class RateBasis(models.TextChoices):
        BENCHMARK = "benchmark", _("PBOC benchmark rate")
        LPR = "lpr", _("Loan prime rate (LPR)")

    class Frequency(models.TextChoices):
        QUARTERLY = "quarterly", _("Quarterly")
        YEARLY = "yearly", _("Yearly")

    PUBLICITY_LEVELS = [
        ("village", _("Village")),
        ("township", _("Township")),
        ("county", _("County")),
    ]

    county = models.ForeignKey(
        OrgUnit,
        on_delete=models.PROTECT,
        related_name="policy_profiles",
        limit_choices_to={"kind": "county"},
        verbose_name=_("county"),
    )
    name = models.CharField(_("name"), max_length=100)
    effective_from = models.DateField(_("effective from"))
    source_text = models.TextField(
        _("source text"), help_text=_("The policy documents and articles these numbers come from.")
    )

    # §3 eligibility
    age_min = models.PositiveSmallIntegerField(_("minimum borrower age"), default=18)
    age_max = models.PositiveSmallIntegerField(_("maximum borrower age"), default=65)
    age_plus_term_max = models.PositiveSmallIntegerField(
        _("maximum of age plus term (years)"),
        null=True,
        blank=True,
        help_text=_("Empty means no limit (P3 §3.2 sets 60 for Miaoshan)."),
    )
    amount_max = models.DecimalField(
        _("maximum loan amount"), max_digits=12, decimal_places=2, default=Decimal("50000.00")
    )
    household_total_max = models.DecimalField(
        _("maximum household outstanding"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("50000.00"),
    )
    term_min_months = models.PositiveSmallIntegerField(_("minimum term (months)"), default=1)
    term_max_months = models.PositiveSmallIntegerField(_("maximum term (months)"), default=36)
    allow_monitored_households = models.BooleanField(
        _("households under monitoring may borrow"),
        default=False,
        help_text=_("Eligible from the 2021 transition policy (银保监发〔2021〕6号)."),
    )
    entrusted_cutoff = models.DateField(
        _("entrusted use forbidden for loans issued after"),
        default="2017-12-07",
    )
    allow_indirect_mode = models.BooleanField(
        _("indirect mode via an implementing entity allowed"), default=False
    )

    # §2 rating scheme: points per dimension, grade bands and credit lines.
    score_integrity_max = models.PositiveSmallIntegerField(_("points: integrity"), default=30)
    score_labour_max = models.PositiveSmallIntegerField(_("points: labour and skills"), default=20)
    score_income_max = models.PositiveSmallIntegerField(_("points: family income"), default=20)
    score_project_max = models.PositiveSmallIntegerField(_("points: project"), default=15)
    score_assets_max = models.PositiveSmallIntegerField(_("points: assets and debts"), default=15)
    grade_aaa_min = models.PositiveSmallIntegerField(_("AAA from score"), default=80)
    grade_aa_min = models.PositiveSmallIntegerField(_("AA from score"), default=70)
    grade_a_min = models.PositiveSmallIntegerField(_("A from score"), default=60)
    line_aaa = models.DecimalField(
        _("credit line AAA"), max_digits=12, decimal_places=2, default=Decimal("50000.00")
    )
    line_aa = models.DecimalField(
        _("credit line AA"), max_digits=12, decimal_places=2, default=Decimal("30000.00")
    )
    line_a = models.DecimalField(
        _("credit line A"), max_digits=12, decimal_places=2, default=Decimal("10000.00")
    )
    # Not fixed by the seed texts; banks commonly re-rate yearly, so a rating lasts a year.
    rating_valid_months = models.PositiveSmallIntegerField(_("rating valid for (months)"), default=12)
    rating_is_investigation = models.BooleanField(
        _("rating doubles as pre-loan investigation"), default=False
    )

    # §4 publicity
    publicity_days = models.PositiveSmallIntegerField(
        _("publicity working days"), default=5, validators=[MinValueValidator(1)]
    )
    publicity_levels = models.JSONField(
        _("publicity levels"), default=default_publicity_levels
    )

    # §5 servicing
    rate_basis = models.CharField(
        _("rate basis"), max_length=16, choices=RateBasis.choices, default=RateBasis.BENCHMARK
    )
    settlement_day = models.PositiveSmallIntegerField(
        _("interest settlement day of the quarter's last month"),
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
    )
    first_check_within_months = models.PositiveSmallIntegerField(
        _("first post-loan check within (months)"), default=6
    )
    check_interval_months = models.PositiveSmallIntegerField(
        _("post-loan check interval (months)"), default=12
    )
    # Classification floors (五级分类), after 《商业银行金融资产风险分类办法》 (2023).
    substandard_after_days = models.PositiveSmallIntegerField(
        _("substandard when overdue more than (days)"), default=90
    )
    doubtful_after_days = models.PositiveSmallIntegerField(
        _("doubtful when overdue more than (days)"), default=270
    )
    loss_after_days = models.PositiveSmallIntegerField(
        _("loss when overdue more than (days)"), default=360
    )
    renewal_max_months = models.PositiveSmallIntegerField(_("renewal at most (months)"), default=36)
    renewal_max_count = models.PositiveSmallIntegerField(_("renewals at most"), default=1)
    extension_short_max_months = models.PositiveSmallIntegerField(
        _("extension of a loan of a year or less at most (months)"), default=12
    )
    extension_long_max_fraction = models.DecimalField(
        _("extension of a longer loan at most (share of its term)"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.50"),
    )
    extension_max_count = models.PositiveSmallIntegerField(_("extensions at most"), default=1)

    # §6 subsidy
    subsidy_cap_basis = models.CharField(
        _("subsidy cap rate basis"),
        max_length=16,
        choices=RateBasis.choices,
        default=RateBasis.BENCHMARK,
    )
    subsidy_share = models.DecimalField(
        _("subsidy share"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("1.0000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    subsidy_years = models.PositiveSmallIntegerField(_("subsidy support period (years)"), default=3)
    subsidy_frequency = models.CharField(
        _("subsidy frequency"), max_length=16, choices=Frequency.choices, default=Frequency.QUARTERLY
    )
    subsidized_principal_max = models.DecimalField(
        _("subsidized principal per household at most"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("50000.00"),
    )

    # §8 risk fund
    leverage_multiple = models.DecimalField(
        _("leverage multiple"), max_digits=5, decimal_places=2, default=Decimal("10.00")
    )
    fund_loss_share = models.DecimalField(
        _("fund's share of a loss"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.8000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
    )
    entrusted_wait_months = models.PositiveSmallIntegerField(
        _("cooperative/entrusted loans: months after maturity before compensation"), default=6
    )
    death_wait_months = models.PositiveSmallIntegerField(
        _("deceased borrower: months after maturity before compensation"), default=3
    )
    recovery_return_working_days = models.PositiveSmallIntegerField(
        _("recoveries returned to the fund within (working days)"), default=5
    )

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("policy profile")
        verbose_name_plural = _("policy profiles")
        ordering = ["county", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["county", "effective_from"], name="policyprofile_one_per_day"
            ),
            models.CheckConstraint(condition=Q(age_min__lt=models.F("age_max")), name="profile_age_order"),
            models.CheckConstraint(
                condition=Q(term_min_months__lte=models.F("term_max_months")),
                name="profile_term_order",
            ),
            models.CheckConstraint(
                condition=Q(grade_a_min__lt=models.F("grade_aa_min"))
                & Q(grade_aa_min__lt=models.F("grade_aaa_min")),
                name="profile_grade_order",
            ),
        ]

    def __str__(self):
        return f"{self.county} · {self.name} ({self.effective_from})"

    @property
    def score_total(self) -> int:
        return (
            self.score_integrity_max
            + self.score_labour_max
            + self.score_income_max
            + self.score_project_max
            + self.score_assets_max
        )


class Rate(models.Model):
    """An effective-dated annual interest rate, in percent (4.35 means 4.35%)."""

    class Kind(models.TextChoices):
        BENCHMARK = "benchmark", _("PBOC benchmark rate")
        LPR = "lpr", _("Loan prime rate (LPR)")

    class Tenor(models.TextChoices):
        UP_TO_1Y = "le1y", _("1 year or less")
        Y1_TO_5 = "1to5y", _("1 to 5 years")
        OVER_5Y = "gt5y", _("over 5 years")
        LPR_1Y = "lpr1y", _("1-year LPR")
        LPR_5Y = "lpr5y", _("5-year LPR")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    tenor = models.CharField(_("tenor"), max_length=8, choices=Tenor.choices)
    effective_from = models.DateField(_("effective from"))
    annual_rate = models.DecimalField(
        _("annual rate (%)"),
        max_digits=6,
        decimal_places=4,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("36"))],
    )
    source = models.CharField(_("source"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("interest rate")
        verbose_name_plural = _("interest rates")
        ordering = ["kind", "tenor", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "tenor", "effective_from"], name="rate_one_per_day")
        ]

    def __str__(self):
        return f"{self.get_tenor_display()} {self.annual_rate}% ({self.effective_from})"


class CalendarYear(models.Model):
    """A year whose every day is in `CalendarDay`. A date in a year not listed here has no data."""

    year = models.PositiveSmallIntegerField(_("year"), primary_key=True)
    source = models.CharField(_("source"), max_length=200)
    loaded_at = models.DateTimeField(_("loaded at"), auto_now=True)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("loaded by"),
    )

    class Meta:
        verbose_name = _("calendar year")
        verbose_name_plural = _("calendar years")
        ordering = ["year"]

    def __str__(self):
        return str(self.year)


class CalendarDay(models.Model):
    """One day of a covered year: a working day or not, with the holiday's name where there is one.
    Weekends that are adjusted working days (调休) are working days here."""

    date = models.DateField(_("date"), primary_key=True)
    year = models.ForeignKey(
        CalendarYear, on_delete=models.CASCADE, related_name="days", verbose_name=_("year")
    )
    is_working_day = models.BooleanField(_("working day"))
    note = models.CharField(_("note"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]
        indexes = [models.Index(fields=["is_working_day", "date"])]

    def __str__(self):
        return f"{self.date} {'working' if self.is_working_day else 'rest'}"
