"""Writes for households, members, ratings and the blacklist. Every function takes the acting
user, checks role and scope, runs in one transaction and leaves an audit record. Every rule
failure is an `ApplicationError` (see households/exceptions.py for how it names the field)."""

from __future__ import annotations

import calendar
import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import OrgUnit, Role
from accounts.scoping import village_q, visible_villages
from core.audit import audit
from core.exceptions import ApplicationError, ConflictError, NotPermitted
from policies.models import PolicyProfile
from policies.selectors import county_of, profile_for

from . import idnumbers, selectors
from .exceptions import AlreadyBlacklisted, duplicate_id_number, field_error, member_error
from .models import BlacklistEntry, BlacklistRemovalRequest, CreditRating, Household, Member
from .permissions import BLACKLIST_KEEPERS, HOUSEHOLD_EDITORS, can_see_full_id, rating_branch

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


def _require_household_in_scope(user, household: Household) -> None:
    if not Household.objects.filter(village_q(user, "village"), pk=household.pk).exists():
        raise NotPermitted(_("This household is outside your area."))


def _validation_error(e: ValidationError) -> ApplicationError:
    """A model's own validation (lengths, choices, uniqueness of the registration number) in the
    one error type, every field's messages kept for the page and the API."""
    fields = e.message_dict if hasattr(e, "error_dict") else {"__all__": e.messages}
    first, messages = next(iter(fields.items()))
    return ApplicationError(
        messages[0], "invalid", {"fields": fields}, field=None if first == "__all__" else first
    )


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
        raise _validation_error(e) from None
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
    _require_household_in_scope(acting_user, household)
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
    _require_household_in_scope(acting_user, member.household)
    reason = _required_reason(reason)
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
        raise _validation_error(e) from None
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


# ---------------------------------------------------------------------------------------------
# Credit ratings
# ---------------------------------------------------------------------------------------------

# (rating field, profile field holding its maximum)
DIMENSIONS = (
    ("score_integrity", "score_integrity_max"),
    ("score_labour", "score_labour_max"),
    ("score_income", "score_income_max"),
    ("score_project", "score_project_max"),
    ("score_assets", "score_assets_max"),
)
# A bank's own scoring system sends a total on the common 100-point scale (DOMAIN §2).
TOTAL_SCORE_MAX = 100


@dataclass(frozen=True)
class GradeBand:
    grade: str
    min_score: int
    credit_limit: Decimal


def grade_bands(profile: PolicyProfile) -> list[GradeBand]:
    """The profile's bands, best first. The rating page's live preview gets exactly these."""
    return [
        GradeBand(CreditRating.Grade.AAA, profile.grade_aaa_min, profile.line_aaa),
        GradeBand(CreditRating.Grade.AA, profile.grade_aa_min, profile.line_aa),
        GradeBand(CreditRating.Grade.A, profile.grade_a_min, profile.line_a),
    ]


def grade_for(profile: PolicyProfile, score: int) -> tuple[str, Decimal]:
    """Grade and credit line for a score: the best band whose minimum it reaches; below the A
    band the household is not rated and has no line."""
    for band in grade_bands(profile):
        if score >= band.min_score:
            return band.grade, band.credit_limit
    return CreditRating.Grade.NONE, Decimal("0.00")


def rating_valid_to(valid_from: datetime.date, months: int) -> datetime.date:
    """The last day of a validity of `months` months: the day before the same day-of-month that
    many months later. When that day does not exist (31 January + 1 month, 29 February + 12) the
    period runs to the end of the shorter month, so it is never cut short."""
    index = valid_from.month - 1 + months
    year, month = valid_from.year + index // 12, index % 12 + 1
    if valid_from.day > calendar.monthrange(year, month)[1]:
        return datetime.date(year, month, calendar.monthrange(year, month)[1])
    return datetime.date(year, month, valid_from.day) - datetime.timedelta(days=1)


def dimension_label(field: str) -> str:
    return str(CreditRating._meta.get_field(field).verbose_name)


def _whole_number(field: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise field_error(field, _("Enter a whole number of points."))
    return value


@transaction.atomic
def rating_create(
    *,
    acting_user,
    household: Household,
    score_integrity: int | None = None,
    score_labour: int | None = None,
    score_income: int | None = None,
    score_project: int | None = None,
    score_assets: int | None = None,
    score: int | None = None,
    valid_from: datetime.date | None = None,
    comment: str = "",
) -> CreditRating:
    """Rate a household (评级授信, P1 art.10, P2 §5(1)): either the five dimension scores of the
    profile in force, summed, or a bank system's own total; grade, credit line and validity come
    from the profile."""
    branch = rating_branch(acting_user)
    if branch is None:
        raise NotPermitted(_("Only a bank loan officer of a branch may rate households."))
    household = Household.objects.select_related("village__parent").get(pk=household.pk)
    township = household.village.parent
    if not branch.served_townships.filter(pk=township.pk).exists():
        raise NotPermitted(
            _("Your branch does not serve %(township)s; only the branch serving it may rate this household.")
            % {"township": township}
        )
    if valid_from is None:
        valid_from = timezone.localdate()
    if not isinstance(valid_from, datetime.date):
        raise field_error("valid_from", _("Enter a valid date."))
    # Not stated by the policies; our rule: a rating records an assessment already made, so it
    # starts today at the latest. Earlier dates are fine (entering ratings done on paper), and a
    # mistyped future year cannot leave a household with a line that never takes effect.
    if valid_from > timezone.localdate():
        raise field_error("valid_from", _("A rating cannot start in the future."))
    profile = profile_for(county=county_of(household.village), on_date=valid_from)

    given = {
        "score_integrity": score_integrity,
        "score_labour": score_labour,
        "score_income": score_income,
        "score_project": score_project,
        "score_assets": score_assets,
    }
    entered = [f for f, v in given.items() if v is not None]
    if entered and score is not None:
        raise field_error("score", _("Give either the five dimension scores or a total score, not both."))
    if entered:
        for field, max_field in DIMENSIONS:
            if given[field] is None:
                raise field_error(
                    field,
                    _("Give the score for %(dimension)s as well.") % {"dimension": dimension_label(field)},
                )
            value = _whole_number(field, given[field])
            maximum = getattr(profile, max_field)
            if not 0 <= value <= maximum:
                raise field_error(
                    field,
                    _(
                        "%(dimension)s: %(value)d points is outside 0 to %(max)d "
                        "(policy profile “%(profile)s”)."
                    )
                    % {
                        "dimension": dimension_label(field),
                        "value": value,
                        "max": maximum,
                        "profile": profile.name,
                    },
                    rule="rating_dimension_range",
                    source="DOMAIN §2; policy profile",
                )
        total = sum(given.values())
    elif score is not None:
        total = _whole_number("score", score)
        if not 0 <= total <= TOTAL_SCORE_MAX:
            raise field_error(
                "score",
                _("The total score must be between 0 and %(max)d.") % {"max": TOTAL_SCORE_MAX},
                rule="rating_score_range",
                source="DOMAIN §2",
            )
    else:
        raise field_error(
            "score",
            _("Give the five dimension scores, or the total score from the bank's own scoring system."),
        )

    grade, credit_limit = grade_for(profile, total)
    rating = CreditRating(
        household=household,
        **given,
        score=total,
        grade=grade,
        credit_limit=credit_limit,
        valid_from=valid_from,
        valid_to=rating_valid_to(valid_from, profile.rating_valid_months),
        profile=profile,
        branch=branch,
        rated_by=acting_user,
        comment=(comment or "").strip(),
    )
    try:
        rating.full_clean()
    except ValidationError as e:
        raise _validation_error(e) from None
    rating.save()
    audit(
        actor=acting_user,
        action="rating.create",
        obj=rating,
        data={
            "household": household.pk,
            "score": total,
            "grade": grade,
            "credit_limit": str(credit_limit),
            "valid_from": str(rating.valid_from),
            "valid_to": str(rating.valid_to),
            "profile": profile.pk,
        },
    )
    return rating


# ---------------------------------------------------------------------------------------------
# Blacklist
# ---------------------------------------------------------------------------------------------


def _require_blacklist_keeper(user) -> None:
    if not user.has_role(*BLACKLIST_KEEPERS):
        raise NotPermitted(_("Only the county poverty office and bank loan officers keep the blacklist."))


def _required_reason(reason, field: str = "reason") -> str:
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    if not reason:
        raise field_error(field, _("Give the reason; it is kept with the entry."))
    return reason


@transaction.atomic
def blacklist_add(*, acting_user, household: Household, reason: str) -> BlacklistEntry:
    """Put a household on the blacklist (P1 art.22: malicious default blocks new support)."""
    _require_blacklist_keeper(acting_user)
    _require_household_in_scope(acting_user, household)
    reason = _required_reason(reason)
    entry = BlacklistEntry(household=household, reason=reason, added_by=acting_user)
    # The partial unique index allows one active entry per household; it, not a prior query,
    # decides, so two people adding at the same moment get one entry and one clear refusal.
    try:
        with transaction.atomic():
            entry.save()
    except IntegrityError:
        active = BlacklistEntry.objects.filter(household=household, removed_at__isnull=True).first()
        raise AlreadyBlacklisted(active) from None
    audit(
        actor=acting_user, action="blacklist.add", obj=entry, reason=reason, data={"household": household.pk}
    )
    return entry


def _require_removal_four_eyes(acting_user, removal: BlacklistRemovalRequest) -> None:
    if acting_user.pk == removal.requested_by_id:
        message = _("Four-eyes rule: you asked for this removal, so someone else must approve or reject it.")
        raise NotPermitted(
            message,
            "four_eyes",
            {"rules": [{"rule": "four_eyes", "message": str(message), "source": "DOMAIN §5, P1 art.22"}]},
        )


def blacklist_unsettled_loans(household: Household) -> list[str]:
    """Contract numbers of the household's loans not yet repaid. P1 art.22 keeps a malicious
    defaulter listed until the loan is repaid (清偿): a loan the risk fund compensated or the bank
    wrote off is still owed, so only the state "settled" counts as repaid."""
    # Through the reverse relation: the loans app imports this one, not the other way round.
    unsettled = household.loans.exclude(state="settled").order_by("contract_no")
    return list(unsettled.values_list("contract_no", flat=True))


def _require_settled(household: Household) -> None:
    unsettled = blacklist_unsettled_loans(household)
    if unsettled:
        message = _(
            "The household still owes on loan %(contracts)s, so its debt is not settled (P1 art.22). "
            "Removal before repayment is an exception: choose it and state the exception in the reason."
        ) % {"contracts": "、".join(unsettled)}
        raise field_error("basis", message, rule="blacklist_debt_settled", source="P1 art.22; DOMAIN §5")


@transaction.atomic
def blacklist_removal_request(
    *, acting_user, entry: BlacklistEntry, basis: str, reason: str
) -> BlacklistRemovalRequest:
    """Ask for a household to come off the blacklist. Nothing is lifted yet: a second person
    approves (blacklist_removal_approve). The basis is that the debt is settled, which is checked,
    or an exception, which the reason must state."""
    _require_blacklist_keeper(acting_user)
    entry = BlacklistEntry.objects.select_for_update().select_related("household").get(pk=entry.pk)
    _require_household_in_scope(acting_user, entry.household)
    if basis not in BlacklistRemovalRequest.Basis.values:
        raise field_error("basis", _("Say whether the debt is settled or an exception is claimed."))
    reason = _required_reason(reason)
    if not entry.is_active:
        raise ConflictError(_("This blacklist entry has already been removed."))
    if basis == BlacklistRemovalRequest.Basis.SETTLED:
        _require_settled(entry.household)
    removal = BlacklistRemovalRequest(entry=entry, basis=basis, reason=reason, requested_by=acting_user)
    # The entry's row lock serialises requests; the partial unique index is the last word.
    try:
        with transaction.atomic():
            removal.save()
    except IntegrityError:
        pending = entry.removal_requests.filter(state=BlacklistRemovalRequest.State.PENDING).first()
        raise ConflictError(
            _("A removal of this household is already awaiting approval."),
            "conflict",
            {"request": getattr(pending, "pk", None)},
        ) from None
    audit(
        actor=acting_user,
        action="blacklist.removal_request",
        obj=removal,
        reason=reason,
        data={
            "entry": entry.pk,
            "household": entry.household_id,
            "basis": basis,
            "unsettled_loans": blacklist_unsettled_loans(entry.household),
        },
    )
    return removal


def _lock_pending(removal: BlacklistRemovalRequest) -> BlacklistRemovalRequest:
    # The entry first, then the request, in the same order as blacklist_removal_request, so an
    # approval and a new request never deadlock.
    BlacklistEntry.objects.select_for_update().filter(pk=removal.entry_id).first()
    removal = (
        BlacklistRemovalRequest.objects.select_for_update()
        .select_related("entry__household")
        .get(pk=removal.pk)
    )
    return removal


def _require_decider(acting_user, removal: BlacklistRemovalRequest) -> None:
    # Role and scope before state and four-eyes, so nobody outside learns what is pending.
    _require_blacklist_keeper(acting_user)
    _require_household_in_scope(acting_user, removal.entry.household)
    if removal.state != BlacklistRemovalRequest.State.PENDING:
        raise ConflictError(
            _("This removal request has already been decided (%(state)s).")
            % {"state": removal.get_state_display()},
            "conflict",
            {"state": removal.state},
        )
    _require_removal_four_eyes(acting_user, removal)


@transaction.atomic
def blacklist_removal_approve(
    *, acting_user, removal: BlacklistRemovalRequest, comment: str = ""
) -> BlacklistRemovalRequest:
    """The second person approves: only now is the household taken off the blacklist. The entry
    stays, with who removed it (the approver), when and the request's reason."""
    removal = _lock_pending(removal)
    _require_decider(acting_user, removal)
    entry = removal.entry
    if removal.basis == BlacklistRemovalRequest.Basis.SETTLED:
        # Checked again: the approver vouches for the state of the loans today.
        _require_settled(entry.household)
    now = timezone.now()
    comment = (comment or "").strip() if isinstance(comment, str) else ""
    removal.state = BlacklistRemovalRequest.State.APPROVED
    removal.decided_by = acting_user
    removal.decided_at = now
    removal.decision_comment = comment
    removal.save(update_fields=["state", "decided_by", "decided_at", "decision_comment"])
    entry.removed_by = acting_user
    entry.removed_at = now
    entry.removal_reason = removal.reason
    entry.save(update_fields=["removed_by", "removed_at", "removal_reason"])
    data = {
        "household": entry.household_id,
        "request": removal.pk,
        "requested_by": removal.requested_by_id,
        "basis": removal.basis,
    }
    audit(actor=acting_user, action="blacklist.removal_approve", obj=removal, reason=comment, data=data)
    audit(actor=acting_user, action="blacklist.remove", obj=entry, reason=removal.reason, data=data)
    return removal


@transaction.atomic
def blacklist_removal_reject(
    *, acting_user, removal: BlacklistRemovalRequest, reason: str
) -> BlacklistRemovalRequest:
    """The second person refuses the removal, saying why; the household stays listed."""
    removal = _lock_pending(removal)
    _require_decider(acting_user, removal)
    reason = _required_reason(reason)
    removal.state = BlacklistRemovalRequest.State.REJECTED
    removal.decided_by = acting_user
    removal.decided_at = timezone.now()
    removal.decision_comment = reason
    removal.save(update_fields=["state", "decided_by", "decided_at", "decision_comment"])
    audit(
        actor=acting_user,
        action="blacklist.removal_reject",
        obj=removal,
        reason=reason,
        data={"household": removal.entry.household_id, "entry": removal.entry_id},
    )
    return removal
