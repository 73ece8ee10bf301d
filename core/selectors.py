"""Reads of the audit trail, narrowed to what an administrator may see.

Scoping (an administrator sits at a county, accounts.scoping): an event is visible when
- its object lies in the administrator's area, for every object type that hangs off a village or a
  county (households, members, ratings, the blacklist, applications, loans, settlements, subsidy
  batches, policy profiles; users and units by their unit). System events (no actor, e.g. the
  daily publicity task) are found this way too; or
- its object is shared reference data every county uses (the rate table, the working-day calendar);
  or
- its actor belongs to the administrator's administrative tree (the county, its townships and
  villages), whatever the object: those users only ever act inside the county; or
- its object type is none of the above (a type added later) and the actor works at a bank unit
  serving one of the county's townships.
Bank staff are not matched by actor for known object types: a bank may serve several counties, and
its officer's work in the other county is not this county's business.

The object rule is resolved in the query (one `object_id IN (subquery)` per type), so events
written before this page existed are scoped too, and a page takes a fixed number of queries.
"""

from __future__ import annotations

import datetime

from django.apps import apps
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.http import Http404
from django.utils import timezone

from accounts.models import OrgUnit, User
from accounts.scoping import NOTHING, county_q, village_q, visible_regions

from .models import AuditEvent, Notice

# object_type → (model label, lookup path to the village). Types whose model is not installed are
# skipped, so the table may name a model another part of the project adds later.
VILLAGE_PATHS = {
    "households.household": ("households.Household", "village"),
    "households.member": ("households.Member", "household__village"),
    "households.creditrating": ("households.CreditRating", "household__village"),
    "households.blacklistentry": ("households.BlacklistEntry", "household__village"),
    "households.blacklistremovalrequest": ("households.BlacklistRemovalRequest", "entry__household__village"),
    "loans.loanapplication": ("loans.LoanApplication", "household__village"),
    "loans.objection": ("loans.Objection", "application__household__village"),
    "loans.loan": ("loans.Loan", "household__village"),
    "loans.settlement": ("loans.Settlement", "loan__household__village"),
    "loans.extension": ("loans.Extension", "loan__household__village"),
    "loans.borrowerevent": ("loans.BorrowerEvent", "member__household__village"),
    "archives.archivedocument": ("archives.ArchiveDocument", "household__village"),
}
# object_type → (model label, lookup path to the county).
COUNTY_PATHS = {
    "subsidies.subsidybatch": ("subsidies.SubsidyBatch", "county"),
    "policies.policyprofile": ("policies.PolicyProfile", "county"),
    "riskfund.riskfund": ("riskfund.RiskFund", "county"),
    "riskfund.ledgertransaction": ("riskfund.LedgerTransaction", "fund__county"),
    "riskfund.compensationclaim": ("riskfund.CompensationClaim", "fund__county"),
    "riskfund.recovery": ("riskfund.Recovery", "claim__fund__county"),
}
# Reference data shared by every county: every administrator sees its changes.
SHARED_TYPES = ("policies.rate", "policies.calendaryear")
UNIT_TYPES = ("accounts.user", "accounts.orgunit")


def _model(label: str):
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def _keys(qs: QuerySet) -> QuerySet:
    """The primary keys of `qs` as text, to compare with AuditEvent.object_id."""
    return qs.annotate(audit_key=Cast("pk", output_field=CharField())).values("audit_key")


def audited_object_types() -> dict[str, object]:
    """Every object type the scoping knows, with its model class (None: not installed)."""
    labels = {
        **{t: m for t, (m, _p) in VILLAGE_PATHS.items()},
        **{t: m for t, (m, _p) in COUNTY_PATHS.items()},
    }
    labels.update({"policies.rate": "policies.Rate", "policies.calendaryear": "policies.CalendarYear"})
    labels.update({"accounts.user": "accounts.User", "accounts.orgunit": "accounts.OrgUnit"})
    return {t: _model(label) for t, label in labels.items()}


def _region_unit_ids(user) -> QuerySet:
    """The county's own tree: the county, its townships and villages."""
    return visible_regions(user).values("pk")


def _bank_unit_ids(user) -> QuerySet:
    """Bank branches serving a township of the user's area, and their banks."""
    townships = visible_regions(user).filter(kind=OrgUnit.Kind.TOWNSHIP).values("pk")
    branches = OrgUnit.objects.filter(kind=OrgUnit.Kind.BRANCH, served_townships__in=townships)
    return OrgUnit.objects.filter(
        Q(pk__in=branches.values("pk")) | Q(pk__in=branches.values("parent"))
    ).values("pk")


def audit_scope_q(user) -> Q:
    """The events `user` may see (see the module docstring)."""
    if not getattr(user, "is_authenticated", False):
        return NOTHING
    if user.is_superuser and user.unit_id is None:
        return Q()
    if user.unit_id is None:
        return NOTHING
    region = _region_unit_ids(user)
    banks = _bank_unit_ids(user)
    match = Q(actor__unit__in=region) | Q(object_type__in=SHARED_TYPES)
    for object_type, (label, path) in VILLAGE_PATHS.items():
        model = _model(label)
        if model is not None:
            match |= Q(
                object_type=object_type, object_id__in=_keys(model.objects.filter(village_q(user, path)))
            )
    for object_type, (label, path) in COUNTY_PATHS.items():
        model = _model(label)
        if model is not None:
            match |= Q(
                object_type=object_type, object_id__in=_keys(model.objects.filter(county_q(user, path)))
            )
    match |= Q(
        object_type="accounts.user",
        object_id__in=_keys(User.objects.filter(Q(unit__in=region) | Q(unit__in=banks))),
    )
    match |= Q(object_type="accounts.orgunit", object_id__in=_keys(OrgUnit.objects.filter(pk__in=region)))
    match |= Q(actor__unit__in=banks) & ~Q(object_type__in=list(audited_object_types()))
    return match


def audit_event_list(
    *,
    user,
    q: str = "",
    actor=None,
    object_type: str = "",
    object_id: str = "",
    action: str = "",
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> QuerySet[AuditEvent]:
    """The audit trail as `user` may see it, newest first, filtered. Dates are whole days in the
    project's time zone, both ends included. `q` finds text in the reason, the object id, the
    action, the address or the actor's user name or full name."""
    qs = AuditEvent.objects.filter(audit_scope_q(user)).select_related("actor__unit")
    if actor is not None:
        qs = qs.filter(actor=actor)
    if object_type:
        qs = qs.filter(object_type=object_type)
    if object_id:
        qs = qs.filter(object_id=object_id.strip())
    if action:
        qs = qs.filter(action=action)
    if date_from:
        qs = qs.filter(at__gte=_start_of(date_from))
    if date_to:
        qs = qs.filter(at__lt=_start_of(date_to + datetime.timedelta(days=1)))
    q = (q or "").strip()
    if q:
        qs = qs.filter(
            Q(reason__icontains=q)
            | Q(object_id=q)
            | Q(action__icontains=q)
            | Q(actor__username__icontains=q)
            | Q(actor__name__icontains=q)
            | Q(address__icontains=q)
        )
    return qs.order_by("-at", "-id")


def audit_actor_choices(*, user) -> QuerySet[User]:
    """Users whose events the filter offers: the area's own users and its serving banks' staff."""
    if user.is_superuser and user.unit_id is None:
        return User.objects.order_by("username")
    return User.objects.filter(
        Q(unit__in=_region_unit_ids(user)) | Q(unit__in=_bank_unit_ids(user))
    ).order_by("username")


def audit_actions() -> list[str]:
    """Every action code written so far (for the filter's choices)."""
    return list(AuditEvent.objects.order_by().values_list("action", flat=True).distinct())


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def notices_for(*, user, limit: int | None = 10) -> QuerySet[Notice]:
    """Dashboard notices addressed to a role the user holds at the user's unit, not dismissed by
    them, newest first, each with `is_read` (whether this user has opened it)."""
    if user.unit_id is None:
        return Notice.objects.none()
    qs = (
        Notice.objects.filter(unit_id=user.unit_id, role__in=list(user.role_codes))
        .exclude(dismissed_by=user)
        .annotate(is_read=Exists(Notice.read_by.through.objects.filter(notice=OuterRef("pk"), user=user)))
        .order_by("-created_at", "-id")
    )
    return qs[:limit] if limit else qs


def notice_for(*, user, pk: int) -> Notice:
    """One of the user's own notices (as `notices_for` lists them, without its limit); Http404 for any
    other, so a notice addressed elsewhere answers exactly like one that does not exist."""
    notice = notices_for(user=user, limit=None).filter(pk=pk).first()
    if notice is None:
        raise Http404
    return notice
