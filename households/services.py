"""Writes for households, members, ratings and the blacklist. Every function takes the acting
user, checks scope and role, runs in one transaction and leaves an audit record."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import OrgUnit, Role
from accounts.scoping import visible_villages
from core.audit import audit
from core.exceptions import ApplicationError, NotPermitted

from . import idnumbers
from .exceptions import DuplicateIdNumber
from .models import Household, Member

HOUSEHOLD_EDITORS = (Role.VILLAGE_CADRE, Role.TOWNSHIP_OFFICER, Role.COUNTY_OFFICE, Role.ADMIN)
HOUSEHOLD_FIELDS = ("registration_no", "village", "poverty_status", "exited_on", "address", "assets", "debts", "annual_income", "business")
MEMBER_FIELDS = ("name", "relation", "is_head", "phone", "labour_capacity")


def _require_editor(user) -> None:
    if not user.has_role(*HOUSEHOLD_EDITORS):
        raise NotPermitted(_("Only village cadres, township and county poverty staff may enter households."))


def _require_village_in_scope(user, village: OrgUnit) -> None:
    if village is None or not visible_villages(user).filter(pk=village.pk).exists():
        raise ApplicationError(
            _("You can only enter households in villages of your own area."), "out_of_scope", field="village"
        )


def _check_members(members: list[dict]) -> None:
    """One head per household, who is the head by relation too; no number twice in one form."""
    heads = [m for m in members if m.get("is_head")]
    if len(heads) != 1:
        raise ApplicationError(
            _("A household has exactly one head; %(n)d members are marked as head.") % {"n": len(heads)},
            "household_head",
            field="members",
        )
    seen = set()
    for m in members:
        number = m["id_info"].number
        if number in seen:
            raise ApplicationError(
                _("ID number %(masked)s appears twice in this household.") % {"masked": idnumbers.mask(number)},
                "duplicate_id_number",
                field="members",
            )
        seen.add(number)


def _normalise_member(data: dict) -> dict:
    """Parse the ID number (raises ValidationError on `id_number`) and set relation/head consistently."""
    data = dict(data)
    try:
        data["id_info"] = idnumbers.parse(data.pop("id_number", None))
    except ValidationError as e:
        raise ValidationError({"id_number": e.messages}) from None
    if data.get("relation") == Member.Relation.HEAD:
        data["is_head"] = True
    elif data.get("is_head"):
        data["relation"] = Member.Relation.HEAD
    return data


def _save_member(member: Member, data: dict) -> Member:
    for field in MEMBER_FIELDS:
        if field in data:
            setattr(member, field, data[field])
    if "id_info" in data:
        member.set_id_number(data["id_info"])
    member.full_clean(exclude=["household"])
    # The unique index on the hash is the real guard; the query only gives a friendlier message.
    clash = Member.objects.filter(id_number_hash=member.id_number_hash).exclude(pk=member.pk).exists()
    if clash:
        raise DuplicateIdNumber(member.id_number_masked, field="members")
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError:
        raise DuplicateIdNumber(member.id_number_masked, field="members") from None
    return member


@transaction.atomic
def household_create(*, acting_user, members: Iterable[dict], reason: str = "", **fields) -> Household:
    """Create a household with its members. `members` are dicts of MEMBER_FIELDS plus `id_number`."""
    _require_editor(acting_user)
    _require_village_in_scope(acting_user, fields.get("village"))
    members = [_normalise_member(m) for m in members]
    _check_members(members)
    household = Household(**{k: v for k, v in fields.items() if k in HOUSEHOLD_FIELDS})
    _validate_status(household)
    household.full_clean()
    household.save()
    for data in members:
        _save_member(Member(household=household), data)
    audit(
        actor=acting_user,
        action="household.create",
        obj=household,
        reason=reason,
        data={"registration_no": household.registration_no, "members": len(members)},
    )
    return household


def _validate_status(household: Household) -> None:
    if household.poverty_status == Household.PovertyStatus.EXITED and not household.exited_on:
        raise ValidationError({"exited_on": _("Give the date the household exited poverty.")})
    if household.poverty_status != Household.PovertyStatus.EXITED and household.exited_on:
        raise ValidationError({"exited_on": _("Only an exited household has an exit date.")})


@transaction.atomic
def household_update(
    *, acting_user, household: Household, members: Iterable[dict] | None = None, reason: str = "", **fields
) -> Household:
    """Change a household and, when `members` is given, replace its member list: dicts with an
    `id` update that member, dicts without add one, and members not listed are removed."""
    _require_editor(acting_user)
    household = Household.objects.select_for_update().get(pk=household.pk)
    _require_village_in_scope(acting_user, household.village)
    before = {f: str(getattr(household, f)) for f in HOUSEHOLD_FIELDS}
    for key, value in fields.items():
        if key in HOUSEHOLD_FIELDS:
            setattr(household, key, value)
    _require_village_in_scope(acting_user, household.village)
    _validate_status(household)
    household.full_clean()
    household.save()
    if members is not None:
        existing = {m.pk: m for m in household.members.all()}
        normalised = []
        for data in members:
            data = dict(data)
            if data.get("id") and not data.get("id_number"):
                # Editing without retyping the number keeps the stored one.
                data["id_number"] = existing[data["id"]].id_number if data["id"] in existing else None
            normalised.append(_normalise_member(data))
        _check_members(normalised)
        keep = {d["id"] for d in normalised if d.get("id")}
        unknown = keep - existing.keys()
        if unknown:
            raise ApplicationError(_("A member does not belong to this household."), "invalid", field="members")
        # Heads change in two steps so the one-head constraint is never broken mid-way.
        household.members.exclude(pk__in=keep).delete()
        household.members.filter(is_head=True).update(is_head=False)
        for data in normalised:
            member = existing.get(data.get("id")) or Member(household=household)
            _save_member(member, data)
    after = {f: str(getattr(household, f)) for f in HOUSEHOLD_FIELDS}
    audit(
        actor=acting_user,
        action="household.update",
        obj=household,
        reason=reason,
        data={"changed": {f: [before[f], after[f]] for f in HOUSEHOLD_FIELDS if before[f] != after[f]}},
    )
    return household
