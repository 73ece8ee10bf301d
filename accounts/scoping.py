"""The one scoping mechanism. Every selector, page and API narrows its queryset here, so a user
sees only data at or below their unit, and bank staff see the townships their branch serves.
Out-of-scope rows are simply absent: lookups on a scoped queryset answer 404."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from .models import OrgUnit

NOTHING = Q(pk__in=[])


def _path(prefix: str, rest: str) -> str:
    return f"{prefix}__{rest}" if prefix else rest


def served_township_ids(unit: OrgUnit):
    """Townships a bank unit serves: a branch's own set, or the union over a bank's branches."""
    if unit.kind == OrgUnit.Kind.BRANCH:
        return OrgUnit.objects.filter(serving_branches=unit).values("pk")
    if unit.kind == OrgUnit.Kind.BANK:
        return OrgUnit.objects.filter(serving_branches__parent=unit).values("pk")
    return OrgUnit.objects.none().values("pk")


def village_q(user, village: str = "village") -> Q:
    """A filter for rows that hang off a village through the lookup path `village`
    ("" when the rows are the villages themselves)."""
    if not getattr(user, "is_authenticated", False):
        return NOTHING
    if user.is_superuser and user.unit_id is None:
        return Q()
    unit = user.unit
    if unit is None:
        return NOTHING
    own = village or "pk"
    match unit.kind:
        case OrgUnit.Kind.COUNTY:
            return Q(**{_path(village, "parent__parent"): unit.pk})
        case OrgUnit.Kind.TOWNSHIP:
            return Q(**{_path(village, "parent"): unit.pk})
        case OrgUnit.Kind.VILLAGE:
            return Q(**{own: unit.pk})
        case OrgUnit.Kind.BRANCH | OrgUnit.Kind.BANK:
            return Q(**{_path(village, "parent__in"): served_township_ids(unit)})
    return NOTHING


def county_q(user, county: str = "county") -> Q:
    """A filter for rows that belong to a county (policy profiles, later the risk fund)."""
    if not getattr(user, "is_authenticated", False):
        return NOTHING
    if user.is_superuser and user.unit_id is None:
        return Q()
    unit = user.unit
    if unit is None:
        return NOTHING
    own = county or "pk"
    match unit.kind:
        case OrgUnit.Kind.COUNTY:
            return Q(**{own: unit.pk})
        case OrgUnit.Kind.TOWNSHIP:
            return Q(**{own: unit.parent_id})
        case OrgUnit.Kind.VILLAGE:
            return Q(**{own: unit.parent.parent_id})
        case OrgUnit.Kind.BRANCH | OrgUnit.Kind.BANK:
            counties = OrgUnit.objects.filter(
                pk__in=OrgUnit.objects.filter(pk__in=served_township_ids(unit)).values("parent")
            ).values("pk")
            return Q(**{f"{own}__in": counties})
    return NOTHING


def visible_regions(user) -> QuerySet[OrgUnit]:
    """The administrative tree at or below the user's unit: a county user sees the county, its
    townships and villages; a branch sees the townships it serves and their villages."""
    K = OrgUnit.Kind
    villages = Q(kind=K.VILLAGE) & village_q(user, "")
    if not getattr(user, "is_authenticated", False):
        return OrgUnit.objects.none()
    if user.is_superuser and user.unit_id is None:
        return OrgUnit.objects.filter(kind__in=[K.COUNTY, K.TOWNSHIP, K.VILLAGE])
    unit = user.unit
    if unit is None:
        return OrgUnit.objects.none()
    match unit.kind:
        case K.COUNTY:
            above = Q(pk=unit.pk) | Q(kind=K.TOWNSHIP, parent=unit.pk)
        case K.TOWNSHIP:
            above = Q(pk=unit.pk)
        case K.BRANCH | K.BANK:
            above = Q(kind=K.TOWNSHIP, pk__in=served_township_ids(unit))
        case _:
            above = NOTHING
    return OrgUnit.objects.filter(villages | above)


def visible_villages(user) -> QuerySet[OrgUnit]:
    return OrgUnit.objects.filter(Q(kind=OrgUnit.Kind.VILLAGE) & village_q(user, "")).select_related("parent")


def visible_counties(user) -> QuerySet[OrgUnit]:
    return OrgUnit.objects.filter(Q(kind=OrgUnit.Kind.COUNTY) & county_q(user, ""))
