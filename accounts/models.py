from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class OrgUnit(models.Model):
    """One place a user can belong to: the administrative tree county → township → village,
    or a bank and its branches. A branch serves a set of townships (DOMAIN §1)."""

    class Kind(models.TextChoices):
        COUNTY = "county", _("County")
        TOWNSHIP = "township", _("Township")
        VILLAGE = "village", _("Village")
        BANK = "bank", _("Bank")
        BRANCH = "branch", _("Bank branch")

    # Which kind may sit under which; the tree has a fixed depth, so scoping is plain joins.
    PARENT_KIND = {
        Kind.COUNTY: None,
        Kind.TOWNSHIP: Kind.COUNTY,
        Kind.VILLAGE: Kind.TOWNSHIP,
        Kind.BANK: None,
        Kind.BRANCH: Kind.BANK,
    }

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, db_index=True)
    code = models.CharField(
        _("code"),
        max_length=32,
        unique=True,
        help_text=_("Official statistical division code, or the bank's own code."),
    )
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        verbose_name=_("parent"),
    )
    served_townships = models.ManyToManyField(
        "self",
        symmetrical=False,
        blank=True,
        related_name="serving_branches",
        limit_choices_to={"kind": "township"},
        verbose_name=_("townships served"),
    )

    class Meta:
        verbose_name = _("organisation unit")
        verbose_name_plural = _("organisation units")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["county", "bank"], parent__isnull=True)
                | Q(kind__in=["township", "village", "branch"], parent__isnull=False),
                name="orgunit_parent_by_kind",
            )
        ]

    def __str__(self):
        return self.name

    @property
    def is_region(self) -> bool:
        return self.kind in (self.Kind.COUNTY, self.Kind.TOWNSHIP, self.Kind.VILLAGE)


class Role(models.Model):
    """The roles of DOMAIN §1. A user holds one or more."""

    VILLAGE_CADRE = "village_cadre"
    TOWNSHIP_OFFICER = "township_officer"
    COUNTY_OFFICE = "county_office"
    LOAN_OFFICER = "loan_officer"
    APPROVER = "approver"
    FINANCE = "finance"
    FUND_COMMITTEE = "fund_committee"
    ADMIN = "admin"

    CHOICES = [
        (VILLAGE_CADRE, _("Village cadre")),
        (TOWNSHIP_OFFICER, _("Township poverty officer")),
        (COUNTY_OFFICE, _("County poverty office")),
        (LOAN_OFFICER, _("Bank loan officer")),
        (APPROVER, _("Bank approver")),
        (FINANCE, _("Finance bureau staff")),
        (FUND_COMMITTEE, _("Risk-fund committee")),
        (ADMIN, _("Administrator")),
    ]
    # The kind of unit each role's holder must belong to.
    UNIT_KINDS = {
        VILLAGE_CADRE: {OrgUnit.Kind.VILLAGE},
        TOWNSHIP_OFFICER: {OrgUnit.Kind.TOWNSHIP},
        COUNTY_OFFICE: {OrgUnit.Kind.COUNTY},
        LOAN_OFFICER: {OrgUnit.Kind.BRANCH},
        APPROVER: {OrgUnit.Kind.BRANCH, OrgUnit.Kind.BANK},
        FINANCE: {OrgUnit.Kind.COUNTY},
        FUND_COMMITTEE: {OrgUnit.Kind.COUNTY},
        ADMIN: {OrgUnit.Kind.COUNTY},
    }

    code = models.CharField(_("code"), max_length=32, primary_key=True, choices=CHOICES)

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self):
        return str(self.get_code_display())


class User(AbstractUser):
    name = models.CharField(_("full name"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    unit = models.ForeignKey(
        OrgUnit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="users",
        verbose_name=_("unit"),
    )
    roles = models.ManyToManyField(Role, blank=True, related_name="users", verbose_name=_("roles"))

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return self.name or self.username

    @property
    def role_codes(self) -> frozenset[str]:
        # Cached per request object: every page asks several times.
        if not hasattr(self, "_role_codes"):
            self._role_codes = frozenset(self.roles.values_list("code", flat=True))
        return self._role_codes

    def has_role(self, *codes: str) -> bool:
        """Whether the user holds one of the business roles. A superuser is not every role: the
        flag is for system maintenance (Django admin), and approving a loan, a subsidy batch or a
        blacklist removal needs the role itself (issue 10, ASVS V2.3.5)."""
        return bool(self.role_codes.intersection(codes))
