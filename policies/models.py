from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
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
    age_min = models.PositiveSmallIntegerField(
        _("minimum borrower age"),
        default=18,
        help_text=_(
            "Age on the day of application, computed from the ID number, inclusive (P3 §3.2, P5 §3(1)1)."
        ),
    )
    age_max = models.PositiveSmallIntegerField(
        _("maximum borrower age"),
        default=65,
        help_text=_(
            "Age on the day of application, computed from the ID number, inclusive (P3 §3.2, P5 §3(1)1)."
        ),
    )
    age_plus_term_max = models.PositiveSmallIntegerField(
        _("maximum of age plus term (years)"),
        null=True,
        blank=True,
        help_text=_("Empty means no limit (P3 §3.2 sets 60 for Miaoshan)."),
    )
    amount_max = models.DecimalField(
        _("maximum loan amount"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("50000.00"),
        help_text=_("Yuan per loan; the loan must also stay within the household's credit line (P1 art.2)."),
    )
    household_total_max = models.DecimalField(
        _("maximum household outstanding"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("50000.00"),
        help_text=_(
            "Yuan: the household's outstanding loans of this kind after the new one, additional loans "
            "included (P1 art.25)."
        ),
    )
    term_min_months = models.PositiveSmallIntegerField(
        _("minimum term (months)"),
        default=1,
        help_text=_("P5 §3(2)2 lends for 12 to 36 months."),
    )
    term_max_months = models.PositiveSmallIntegerField(
        _("maximum term (months)"),
        default=36,
        help_text=_("At most 36 months (P1 art.2); Miaoshan usually at most 24 (P3 §2)."),
    )
    allow_monitored_households = models.BooleanField(
        _("households under monitoring may borrow"),
        default=False,
        help_text=_("Eligible from the 2021 transition policy (银保监发〔2021〕6号)."),
    )
    entrusted_cutoff = models.DateField(
        _("entrusted use forbidden for loans issued after"),
        default="2017-12-07",
        help_text=_(
            "Household borrows, enterprise uses (户贷企用) is forbidden for loans issued after this "
            "date (P2 §4(4))."
        ),
    )
    allow_indirect_mode = models.BooleanField(
        _("indirect mode via an implementing entity allowed"),
        default=False,
        help_text=_(
            "The entity must be registered, hold a settlement account at a local bank, be creditworthy "
            "and have no unresolved lawsuits (P2 §4(4)2, §4(6))."
        ),
    )

    # §2 rating scheme: points per dimension, grade bands and credit lines.
    score_integrity_max = models.PositiveSmallIntegerField(
        _("points: integrity"), default=30, help_text=_("Highest score for this dimension (P1 art.10).")
    )
    score_labour_max = models.PositiveSmallIntegerField(
        _("points: labour and skills"),
        default=20,
        help_text=_("Highest score for this dimension (P1 art.10)."),
    )
    score_income_max = models.PositiveSmallIntegerField(
        _("points: family income"), default=20, help_text=_("Highest score for this dimension (P1 art.10).")
    )
    score_project_max = models.PositiveSmallIntegerField(
        _("points: project"), default=15, help_text=_("Highest score for this dimension (P1 art.10).")
    )
    score_assets_max = models.PositiveSmallIntegerField(
        _("points: assets and debts"),
        default=15,
        help_text=_("Highest score for this dimension (P1 art.10)."),
    )
    grade_aaa_min = models.PositiveSmallIntegerField(
        _("AAA from score"), default=80, help_text=_("Lowest total score rated AAA.")
    )
    grade_aa_min = models.PositiveSmallIntegerField(
        _("AA from score"), default=70, help_text=_("Lowest total score rated AA.")
    )
    grade_a_min = models.PositiveSmallIntegerField(
        _("A from score"),
        default=60,
        help_text=_("Lowest total score rated A; below it the household is not rated."),
    )
    line_aaa = models.DecimalField(
        _("credit line AAA"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("50000.00"),
        help_text=_("Credit line in yuan for this grade (P2 §5(1))."),
    )
    line_aa = models.DecimalField(
        _("credit line AA"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("30000.00"),
        help_text=_("Credit line in yuan for this grade (P2 §5(1))."),
    )
    line_a = models.DecimalField(
        _("credit line A"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("10000.00"),
        help_text=_("Credit line in yuan for this grade (P2 §5(1))."),
    )
    # Not fixed by the seed texts; banks commonly re-rate yearly, so a rating lasts a year.
    rating_valid_months = models.PositiveSmallIntegerField(
        _("rating valid for (months)"),
        default=12,
        help_text=_("A household may borrow only while its rating is valid."),
    )
    rating_is_investigation = models.BooleanField(
        _("rating doubles as pre-loan investigation"),
        default=False,
        help_text=_("When set, the rating visit counts as the bank's pre-loan investigation."),
    )

    # §4 publicity
    publicity_days = models.PositiveSmallIntegerField(
        _("publicity working days"),
        default=5,
        validators=[MinValueValidator(1)],
        help_text=_("Each notice stays up this many working days without objection (P1 art.12)."),
    )
    publicity_levels = models.JSONField(
        _("publicity levels"),
        default=default_publicity_levels,
        help_text=_(
            "The levels at which the application is publicised; every level posts on the day of village approval and runs its working days (P1 art.12: 村、乡（镇）、区扶贫办分别公告公示)."  # noqa: E501
        ),
    )

    # §5 servicing
    rate_basis = models.CharField(
        _("rate basis"),
        max_length=16,
        choices=RateBasis.choices,
        default=RateBasis.LPR,
        help_text=_(
            "The rate table that prices a loan, by its contract date: under the LPR, contracts "
            "signed on or after 2019-08-20 take the loan prime rate (1-year LPR for terms up to 12 "
            "months, 5-year LPR for longer ones) and earlier contracts the PBOC benchmark rate (up "
            "to 1 year, 1 to 5 years); under the benchmark, every contract takes the benchmark rate. "
            "The rate in force on the contract date is fixed for the contract (P1 art.2, P2 §4(3))."
        ),
    )
    settlement_day = models.PositiveSmallIntegerField(
        _("interest settlement day of the quarter's last month"),
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text=_("Interest is settled quarterly on this day unless the contract says otherwise."),
    )
    first_check_within_months = models.PositiveSmallIntegerField(
        _("first post-loan check within (months)"),
        default=6,
        help_text=_("Months after disbursement (P1 art.43(6))."),
    )
    check_interval_months = models.PositiveSmallIntegerField(
        _("post-loan check interval (months)"),
        default=12,
        help_text=_("Later checks at least this often."),
    )
    # Classification floors (五级分类), after 《商业银行金融资产风险分类办法》 (2023).
    substandard_after_days = models.PositiveSmallIntegerField(
        _("substandard when overdue more than (days)"),
        default=90,
        help_text=_("Any overdue loan is at least special mention; beyond these days at least substandard."),
    )
    doubtful_after_days = models.PositiveSmallIntegerField(
        _("doubtful when overdue more than (days)"),
        default=270,
        help_text=_("Beyond these days past due a loan is at least doubtful."),
    )
    loss_after_days = models.PositiveSmallIntegerField(
        _("loss when overdue more than (days)"),
        default=360,
        help_text=_("Beyond these days past due a loan is classified loss."),
    )
    renewal_max_months = models.PositiveSmallIntegerField(
        _("renewal at most (months)"), default=36, help_text=_("P5 §3(2)2: at most 3 years.")
    )
    renewal_max_count = models.PositiveSmallIntegerField(
        _("renewals at most"), default=1, help_text=_("P5 §3(2)2: only once.")
    )
    extension_short_max_months = models.PositiveSmallIntegerField(
        _("extension of a loan of a year or less at most (months)"),
        default=12,
        help_text=_("P5 §3(2)2: at most 1 year."),
    )
    extension_long_max_fraction = models.DecimalField(
        _("extension of a longer loan at most (share of its term)"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.50"),
        help_text=_("P5 §3(2)2: at most half the original term; 0.50 means half."),
    )
    extension_max_count = models.PositiveSmallIntegerField(
        _("extensions at most"), default=1, help_text=_("P5 §3(2)2: only once.")
    )

    # §6 subsidy
    subsidy_cap_basis = models.CharField(
        _("subsidy cap rate basis"),
        max_length=16,
        choices=RateBasis.choices,
        default=RateBasis.BENCHMARK,
        help_text=_(
            "Interest is subsidized up to this rate; interest charged above it is the borrower's own "
            "(P1 art.2, P2 §5(3)2)."
        ),
    )
    subsidy_share = models.DecimalField(
        _("subsidy share"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("1.0000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("Share of the eligible interest the county pays: 1 is full subsidy."),
    )
    subsidy_years = models.PositiveSmallIntegerField(
        _("subsidy support period (years)"),
        default=3,
        help_text=_("Counted from disbursement, inclusive (P5 §3(2)4)."),
    )
    subsidy_frequency = models.CharField(
        _("subsidy frequency"),
        max_length=16,
        choices=Frequency.choices,
        default=Frequency.QUARTERLY,
        help_text=_("At least once a quarter by default; by year end everything due is paid (P2 §5(3)4)."),
    )
    subsidized_principal_max = models.DecimalField(
        _("subsidized principal per household at most"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("50000.00"),
        help_text=_("Yuan: interest on the part of a household's loans above this is not subsidized."),
    )

    # §8 risk fund
    leverage_multiple = models.DecimalField(
        _("leverage multiple"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("10.00"),
        help_text=_("The bank lends at most the fund balance times this (P1 art.38; Guangxi: 10)."),
    )
    fund_loss_share = models.DecimalField(
        _("fund's share of a loss"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.8000"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("1"))],
        help_text=_("The fund bears this share and the bank the rest; 0.8 means 8:2 (P1 art.8(3))."),
    )
    entrusted_wait_months = models.PositiveSmallIntegerField(
        _("cooperative/entrusted loans: months after maturity before compensation"),
        default=6,
        help_text=_("The bank pursues the entity at least this long first (P1 art.20)."),
    )
    death_wait_months = models.PositiveSmallIntegerField(
        _("deceased borrower: months after maturity before compensation"),
        default=3,
        help_text=_("Insurance pays first; only the shortfall goes to the fund (P1 art.21)."),
    )
    recovery_return_working_days = models.PositiveSmallIntegerField(
        _("recoveries returned to the fund within (working days)"),
        default=5,
        help_text=_("P1 art.40."),
    )
    default_wait_days = models.PositiveSmallIntegerField(
        _("other defaults: days overdue before compensation"),
        default=90,
        help_text=_(
            "A loan that is neither cooperative/entrusted nor of a deceased borrower may be claimed once "
            "it has been overdue this many days (DOMAIN §8; set by the county's fund rules)."
        ),
    )
    loss_includes_interest = models.BooleanField(
        _("the loss includes unpaid interest"),
        default=True,
        help_text=_(
            "Compensate the principal and the overdue interest (P1 art.21); off: the principal only. "
            "Other costs are never included (DOMAIN §8)."
        ),
    )
    loss_remainder_to = models.CharField(
        _("a loss split's remainder fen goes to"),
        max_length=8,
        choices=[("bank", _("The bank")), ("fund", _("The fund"))],
        default="bank",
        help_text=_(
            "Splitting a loss by the ratio can leave one fen over; it goes to this side, so the two "
            "shares always add up to the loss."
        ),
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
            models.UniqueConstraint(fields=["county", "effective_from"], name="policyprofile_one_per_day"),
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

    def clean(self):
        """Cross-field rules, each reported next to its field so a page can show it there. The
        database constraints back up the orderings; the point here is a message a person can act on.
        Rules the seed texts do not state are what a county office would expect (no band that no
        one can reach, no cap below another cap it contains)."""
        errors: dict[str, list] = {}

        def check(ok, field, message):
            if not ok:
                errors.setdefault(field, []).append(message)

        def given(*values):
            return all(v is not None for v in values)

        if given(self.age_min):
            check(
                self.age_min >= 18,
                "age_min",
                _("Borrowers must be at least 18 with full civil capacity (P3 §3.2, P5 §3(1)1)."),
            )
        if given(self.age_min, self.age_max):
            check(
                self.age_min < self.age_max,
                "age_max",
                _("The maximum age must be higher than the minimum age."),
            )
        if given(self.age_min, self.age_plus_term_max):
            check(
                self.age_plus_term_max > self.age_min,
                "age_plus_term_max",
                _("Age plus term must allow more than the minimum age, or nobody could borrow."),
            )
        if given(self.amount_max):
            check(self.amount_max > 0, "amount_max", _("The maximum loan amount must be more than zero."))
        if given(self.amount_max, self.household_total_max):
            check(
                self.household_total_max >= self.amount_max,
                "household_total_max",
                _("A household's total may not be below the maximum of a single loan."),
            )
        if given(self.term_min_months):
            check(self.term_min_months >= 1, "term_min_months", _("The minimum term is at least 1 month."))
        if given(self.term_min_months, self.term_max_months):
            check(
                self.term_min_months <= self.term_max_months,
                "term_max_months",
                _("The maximum term may not be shorter than the minimum term."),
            )
        if given(self.grade_a_min, self.grade_aa_min, self.grade_aaa_min):
            check(
                self.grade_a_min < self.grade_aa_min < self.grade_aaa_min,
                "grade_aaa_min",
                _("Grade bands must rise: A below AA below AAA."),
            )
        scores = (
            self.score_integrity_max,
            self.score_labour_max,
            self.score_income_max,
            self.score_project_max,
            self.score_assets_max,
        )
        if given(self.grade_aaa_min, *scores):
            check(
                self.grade_aaa_min <= self.score_total,
                "grade_aaa_min",
                _("AAA must be reachable: the dimensions add up to %(total)d points only.")
                % {"total": self.score_total},
            )
        if given(self.line_a):
            check(self.line_a > 0, "line_a", _("A credit line must be more than zero."))
        if given(self.line_a, self.line_aa, self.line_aaa):
            check(
                self.line_a <= self.line_aa <= self.line_aaa,
                "line_aaa",
                _("Credit lines may not fall as the grade rises: A ≤ AA ≤ AAA."),
            )
        if given(self.rating_valid_months):
            check(self.rating_valid_months >= 1, "rating_valid_months", _("Enter at least 1 month."))
        levels = self.publicity_levels
        codes = [code for code, _label in self.PUBLICITY_LEVELS]
        if not isinstance(levels, list) or not levels or any(level not in codes for level in levels):
            check(False, "publicity_levels", _("Choose one or more of village, township and county."))
        else:
            # Notices run from the village upwards (P1 art.12), whatever order they were ticked in.
            self.publicity_levels = [code for code in codes if code in levels]
        if given(self.first_check_within_months):
            check(
                self.first_check_within_months >= 1, "first_check_within_months", _("Enter at least 1 month.")
            )
        if given(self.check_interval_months):
            check(self.check_interval_months >= 1, "check_interval_months", _("Enter at least 1 month."))
        if given(self.substandard_after_days, self.doubtful_after_days, self.loss_after_days):
            check(
                self.substandard_after_days < self.doubtful_after_days < self.loss_after_days,
                "loss_after_days",
                _("Classification floors must rise: substandard before doubtful before loss."),
            )
        if given(self.extension_long_max_fraction):
            check(
                0 < self.extension_long_max_fraction <= 1,
                "extension_long_max_fraction",
                _("Enter a share above 0 and at most 1."),
            )
        if given(self.subsidy_years):
            check(self.subsidy_years >= 1, "subsidy_years", _("Enter at least 1 year."))
        if given(self.leverage_multiple):
            check(
                self.leverage_multiple > 0,
                "leverage_multiple",
                _("The leverage multiple must be above zero."),
            )
        if errors:
            raise ValidationError(errors)


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

    def clean(self):
        if self.kind and self.tenor and self.tenor not in TENORS_BY_KIND.get(self.kind, ()):
            raise ValidationError(
                {
                    "tenor": _("This tenor does not belong to the %(kind)s.")
                    % {"kind": self.get_kind_display()}
                }
            )


TENORS_BY_KIND = {
    Rate.Kind.BENCHMARK: (Rate.Tenor.UP_TO_1Y, Rate.Tenor.Y1_TO_5, Rate.Tenor.OVER_5Y),
    Rate.Kind.LPR: (Rate.Tenor.LPR_1Y, Rate.Tenor.LPR_5Y),
}


# The working-day calendar lives in its own module; imported here so Django registers its models
# with this app and `from policies.models import CalendarDay` keeps working.
from .models_calendar import CalendarDay, CalendarYear  # noqa: E402

__all__ = [
    "CalendarDay",
    "CalendarYear",
    "PolicyProfile",
    "Rate",
    "TENORS_BY_KIND",
    "default_publicity_levels",
]
