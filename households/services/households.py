"""Writes for households and their members: entering and editing them, correcting a locked
identity, revealing whole ID numbers."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import OrgUnit, Role
from accounts.scoping import village_q, visible_villages
from core.audit import audit
from core.exceptions import ApplicationError, NotPermitted

from .. import idnumbers, selectors
from ..exceptions import duplicate_id_number, field_error, member_error
from ..models import Household, Member
from ..permissions import HOUSEHOLD_EDITORS, can_see_full_id

HOUSEHOLD_FIELDS = (
    "registration_no",
    "village",
    "poverty_status",
    "exited_on",
    "address",
    "assets",
    "debts",
    "annual_income",
    "business",
)
MEMBER_FIELDS = ("name", "relation", "is_head", "phone", "labour_capacity")
# What identifies a borrower on contracts, publicity notices and the bank's records: locked once
# the person applies past draft or borrows (DOMAIN §2; see selectors.identity_locked_ids).
IDENTITY_FIELDS = ("name", "id_number")
IDENTITY_SOURCE = "DOMAIN §2; PIPL art.28"

# ---------------------------------------------------------------------------------------------
# Households and members
# ---------------------------------------------------------------------------------------------


def _require_editor(user) -> None:
    if not user.has_role(*HOUSEHOLD_EDITORS):
        raise NotPermitted(_("Only village cadres, township and county poverty staff may enter households."))


def _require_village_in_scope(user, village) -> None:
    if not isinstance(village, OrgUnit) or not visible_villages(user).filter(pk=village.pk).exists():
        raise field_error(
            "village",
            _("Choose a village of your own area; households can only be entered there."),
            rule="village_in_scope",
            source="DOMAIN §1",
        )


def require_household_in_scope(user, household: Household) -> None:
    if not Household.objects.filter(village_q(user, "village"), pk=household.pk).exists():
        raise NotPermitted(_("This household is outside your area."))


def validation_error(e: ValidationError) -> ApplicationError:
    """A model's own validation (lengths, choices, uniqueness of the registration number) in the
    one error type, every field's messages kept for the page and the API."""
    fields = e.message_dict if hasattr(e, "error_dict") else {"__all__": e.messages}
    first, messages = next(iter(fields.items()))
    return ApplicationError(
        messages[0], "invalid", {"fields": fields}, field=None if first == "__all__" else first
    )


def required_reason(reason, field: str = "reason") -> str:
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise field_error(field, _("Give the reason; it is kept with the entry."))
    return reason


def _member_validation_error(index: int, e: ValidationError) -> ApplicationError:
    fields = e.message_dict if hasattr(e, "error_dict") else {"__all__": e.messages}
    first, messages = next(iter(fields.items()))
    return ApplicationError(
        messages[0],
        "invalid",
        {"fields": {"members": {str(index): fields}}},
        field=f"members.{index}.{first}",
    )


def _validate_status(household: Household) -> None:
    """An exited household has its exit date, and only an exited one has one."""
    if household.poverty_status == Household.PovertyStatus.EXITED and not household.exited_on:
        raise field_error("exited_on", _("Give the date the household exited poverty."))
    if household.poverty_status != Household.PovertyStatus.EXITED and household.exited_on:
        raise field_error("exited_on", _("Only an exited household has an exit date."))
    if household.exited_on and household.exited_on > timezone.localdate():
        raise field_error("exited_on", _("The exit date cannot be in the future."))


def _normalise_members(members: list[dict], existing: dict[int, Member]) -> list[dict]:
    """Parse every ID number and make relation and head agree. A member dict with an `id` of an
    existing member and no `id_number` keeps the stored number (`id_info` None)."""
    out = []
    for i, raw in enumerate(members):
        data = dict(raw)
        number = data.pop("id_number", None)
        member_id = data.get("id")
        if member_id:
            if member_id not in existing:
                raise member_error(i, "id", _("This member does not belong to this household."))
            keep = number is None or (isinstance(number, str) and not number.strip())
            # A partial item keeps the stored relation, so the head is still known.
            data.setdefault("relation", existing[member_id].relation)
        else:
            keep = False
        if keep:
            data["id_info"] = None
        else:
            try:
                data["id_info"] = idnumbers.parse(number)
            except ValidationError as e:
                raise member_error(i, "id_number", e.messages[0]) from None
        if data.get("relation") == Member.Relation.HEAD:
            data["is_head"] = True
        elif data.get("is_head"):
            data["relation"] = Member.Relation.HEAD
        out.append(data)
    return out


def _check_members(members: list[dict], existing: dict[int, Member]) -> None:
    """One head per household (DOMAIN §2); the same number not twice in one household."""
    heads = sum(1 for m in members if m.get("is_head"))
    if heads != 1:
        raise field_error(
            "members",
            _("A household has exactly one head; %(n)d members are marked as head.") % {"n": heads},
            rule="household_one_head",
            source="DOMAIN §2",
        )
    seen = set()
    for i, m in enumerate(members):
        info = m["id_info"]
        number_hash = idnumbers.lookup_hash(info.number) if info else existing[m["id"]].id_number_hash
        if number_hash in seen:
            masked = idnumbers.mask(info.number) if info else existing[m["id"]].id_number_masked
            raise member_error(
                i,
                "id_number",
                _("ID number %(masked)s appears twice in this household.") % {"masked": masked},
                rule="id_number_unique",
                source="DOMAIN §2",
            )
        seen.add(number_hash)


def id_number_ref(member: Member) -> dict:
    """An ID number as the audit log keeps it: the keyed hash (to find every event about one
    person) and the masked form (for people reading the log), never the number itself."""
    return {"hash": member.id_number_hash, "masked": member.id_number_masked}


def _member_snapshot(member: Member) -> dict:
    return {**{f: getattr(member, f) for f in MEMBER_FIELDS}, "id_number": id_number_ref(member)}


def _changes(before: dict, after: dict) -> dict:
    return {f: [before[f], after[f]] for f in after if before.get(f) != after[f]}


def identity_locked_error(member: Member, index: int | None = None, field: str = "name") -> ApplicationError:
    message = _(
        "%(name)s is the borrower of a loan application that has been submitted, or of a loan, so "
        "their name and ID number are locked and cannot be changed by editing the household "
        "(DOMAIN §2). If they are wrong, an administrator corrects them with "
        "“Correct name or ID number” and states the reason."
    ) % {"name": member.name}
    rules = [{"rule": "identity_locked", "message": str(message), "source": IDENTITY_SOURCE}]
    if index is None:
        return ApplicationError(
            message, "identity_locked", {"fields": {field: [str(message)]}, "rules": rules}, field=field
        )
    return ApplicationError(
        message,
        "identity_locked",
        {"fields": {"members": {str(index): {field: [str(message)]}}}, "rules": rules},
        field=f"members.{index}.{field}",
    )


def _check_identity_locks(members: list[dict], existing: dict[int, Member]) -> None:
    """Refuse an ordinary edit that changes the name or ID number of a locked member (DOMAIN §2).
    Checked before anything is written, so a refusal leaves the household as it was."""
    editing = {m["id"]: (i, m) for i, m in enumerate(members) if m.get("id")}
    if not editing:
        return
    locked = selectors.identity_locked_ids(editing)
    for pk in sorted(locked):
        index, data = editing[pk]
        member = existing[pk]
        name = data.get("name")
        if isinstance(name, str) and name.strip() != member.name:
            raise identity_locked_error(member, index, "name")
        info = data.get("id_info")
        if info is not None and idnumbers.lookup_hash(info.number) != member.id_number_hash:
            raise identity_locked_error(member, index, "id_number")


def _save_member(member: Member, data: dict, index: int) -> Member:
    for field in MEMBER_FIELDS:
        if field in data:
            value = data[field]
            setattr(member, field, value.strip() if isinstance(value, str) else value)
    info = data.get("id_info")
    if info is not None and (
        member.pk is None or idnumbers.lookup_hash(info.number) != member.id_number_hash
    ):
        member.set_id_number(info)
    # The unique index on the hash is the real guard; this query only gives a friendlier message
    # before the model's generic "already exists" one.
    if Member.objects.filter(id_number_hash=member.id_number_hash).exclude(pk=member.pk).exists():
        raise duplicate_id_number(member.id_number_masked, index)
    try:
        member.full_clean(exclude=["household", "id_number_hash"])
    except ValidationError as e:
        raise _member_validation_error(index, e) from None
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError:
        # Someone registered the same person in the same instant.
        raise duplicate_id_number(member.id_number_masked, index) from None
    return member


def _save_household(household: Household) -> None:
    _validate_status(household)
    try:
        household.full_clean()
    except ValidationError as e:
        raise validation_error(e) from None
    try:
        with transaction.atomic():
            household.save()
    except IntegrityError:
        raise field_error("registration_no", _("This registration number is already registered.")) from None


@transaction.atomic
def household_create(*, acting_user, members: Iterable[dict], reason: str = "", **fields) -> Household:
    """Create a household with its members. `members` are dicts of MEMBER_FIELDS plus `id_number`
    (text; a number is refused because Excel loses digits). Any failure rolls everything back."""
    _require_editor(acting_user)
    _require_village_in_scope(acting_user, fields.get("village"))
    members = _normalise_members(list(members), {})
    _check_members(members, {})
    household = Household(**{k: v for k, v in fields.items() if k in HOUSEHOLD_FIELDS})
    _save_household(household)
    added = []
    for i, data in enumerate(members):
        member = _save_member(Member(household=household), data, i)
        added.append({"id": member.pk, **_member_snapshot(member)})
    audit(
        actor=acting_user,
        action="household.create",
        obj=household,
        reason=reason,
        data={"registration_no": household.registration_no, "members": len(members), "added": added},
    )
    return household


@transaction.atomic
def household_update(
    *, acting_user, household: Household, members: Iterable[dict] | None = None, reason: str = "", **fields
) -> Household:
    """Change a household and, when `members` is given, replace its member list: dicts with an
    `id` update that member (without `id_number` the stored number stays), dicts without add one,
    and members not listed are removed. Any failure rolls everything back."""
    _require_editor(acting_user)
    # Locked so two people editing the same household at once do not interleave member writes.
    household = Household.objects.select_for_update().get(pk=household.pk)
    require_household_in_scope(acting_user, household)
    before = {f: str(getattr(household, f)) for f in HOUSEHOLD_FIELDS}
    for key, value in fields.items():
        if key in HOUSEHOLD_FIELDS:
            setattr(household, key, value)
    if "village" in fields:
        _require_village_in_scope(acting_user, household.village)
    _save_household(household)
    member_changes = {}
    if members is not None:
        existing = {m.pk: m for m in household.members.all()}
        normalised = _normalise_members(list(members), existing)
        _check_members(normalised, existing)
        _check_identity_locks(normalised, existing)
        before_members = {pk: _member_snapshot(m) for pk, m in existing.items()}
        keep = {d["id"] for d in normalised if d.get("id")}
        removed = [m for pk, m in existing.items() if pk not in keep]
        try:
            household.members.filter(pk__in=[m.pk for m in removed]).delete()
        except ProtectedError:
            raise field_error(
                "members", _("A member with loan records cannot be removed from the household.")
            ) from None
        # Heads change in two steps so the one-head index is never broken mid-way.
        household.members.filter(is_head=True).update(is_head=False)
        added, changed = [], []
        for i, data in enumerate(normalised):
            member = existing.get(data.get("id")) or Member(household=household)
            is_new = member.pk is None
            if not is_new:
                member.is_head = False
            _save_member(member, data, i)
            if is_new:
                added.append({"id": member.pk, **_member_snapshot(member)})
            else:
                diff = _changes(before_members[member.pk], _member_snapshot(member))
                if diff:
                    changed.append({"id": member.pk, "changed": diff})
        # Field by field, so the log answers "who changed this person's details, from what to
        # what"; ID numbers appear only as keyed hash and masked form (PIPL art.51).
        member_changes = {
            "members": {
                "added": added,
                "changed": changed,
                "removed": [{"id": m.pk, **before_members[m.pk]} for m in removed],
                "count": len(normalised),
            }
        }
    after = {f: str(getattr(household, f)) for f in HOUSEHOLD_FIELDS}
    audit(
        actor=acting_user,
        action="household.update",
        obj=household,
        reason=reason,
        data={
            "changed": {f: [before[f], after[f]] for f in HOUSEHOLD_FIELDS if before[f] != after[f]},
            **member_changes,
        },
    )
    return household


def can_correct_identity(user) -> bool:
    """Administrators correct a locked name or ID number (DOMAIN §2): the people who entered the
    household cannot change who a contract was made with."""
    return user.is_authenticated and user.has_role(Role.ADMIN)


@transaction.atomic
def member_identity_correct(
    *, acting_user, member: Member, reason: str, name: str | None = None, id_number: str | None = None
) -> Member:
    """Correct a member's name and/or ID number (DOMAIN §2), locked or not: an administrator, a
    stated reason, and an audit row with before and after (the ID number as keyed hash and masked
    form). `None` or empty leaves that field as it is."""
    if not can_correct_identity(acting_user):
        raise NotPermitted(_("Only an administrator may correct a member's name or ID number."))
    member = Member.objects.select_for_update().select_related("household").get(pk=member.pk)
    require_household_in_scope(acting_user, member.household)
    reason = required_reason(reason)
    before = _member_snapshot(member)
    name = name.strip() if isinstance(name, str) else ""
    if name:
        member.name = name
    if isinstance(id_number, str) and id_number.strip():
        try:
            info = idnumbers.parse(id_number)
        except ValidationError as e:
            raise field_error("id_number", e.messages[0]) from None
        if idnumbers.lookup_hash(info.number) != member.id_number_hash:
            member.set_id_number(info)
    after = _member_snapshot(member)
    changed = _changes(before, after)
    if not changed:
        raise field_error(
            "name", _("The name and ID number given are the ones already stored; nothing to correct.")
        )
    if Member.objects.filter(id_number_hash=member.id_number_hash).exclude(pk=member.pk).exists():
        raise field_error(
            "id_number",
            _(
                "ID number %(masked)s is already registered in the system; "
                "one person can be in one household only."
            )
            % {"masked": member.id_number_masked},
            rule="id_number_unique",
            source="DOMAIN §2",
        )
    try:
        member.full_clean(exclude=["household", "id_number_hash"])
    except ValidationError as e:
        raise validation_error(e) from None
    member.save()
    audit(
        actor=acting_user,
        action="member.identity_correct",
        obj=member,
        reason=reason,
        data={
            "household": member.household_id,
            "locked": member.pk in selectors.identity_locked_ids([member.pk]),
            "changed": changed,
        },
    )
    return member


def member_id_numbers_reveal(*, acting_user, members: Iterable[Member], via: str) -> dict[int, str]:
    """The full ID numbers of `members` for a role whose work needs them (DOMAIN §2), each
    reveal recorded: who saw whose number, when and through which door ("page" or "api")."""
    if not can_see_full_id(acting_user):
        raise NotPermitted(_("Your role sees ID numbers only in masked form."))
    numbers = {}
    for member in members:
        numbers[member.pk] = member.id_number
        audit(
            actor=acting_user,
            action="member.id_number_view",
            obj=member,
            data={"household": member.household_id, "id_number": id_number_ref(member), "via": via},
        )
    return numbers
