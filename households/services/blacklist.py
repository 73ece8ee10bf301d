"""Writes for the blacklist (P1 art.22): a keeper lists a household; its removal needs two people,
one who asks (the debt settled, checked, or an exception, stated) and another who approves or
rejects."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit
from core.exceptions import ConflictError, NotPermitted

from ..exceptions import AlreadyBlacklisted, field_error
from ..models import BlacklistEntry, BlacklistRemovalRequest, Household
from ..permissions import BLACKLIST_KEEPERS
from .households import require_household_in_scope, required_reason


def _require_blacklist_keeper(user) -> None:
    if not user.has_role(*BLACKLIST_KEEPERS):
        raise NotPermitted(_("Only the county poverty office and bank loan officers keep the blacklist."))


@transaction.atomic
def blacklist_add(*, acting_user, household: Household, reason: str) -> BlacklistEntry:
    """Put a household on the blacklist (P1 art.22: malicious default blocks new support)."""
    _require_blacklist_keeper(acting_user)
    require_household_in_scope(acting_user, household)
    reason = required_reason(reason)
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
    require_household_in_scope(acting_user, entry.household)
    if basis not in BlacklistRemovalRequest.Basis.values:
        raise field_error("basis", _("Say whether the debt is settled or an exception is claimed."))
    reason = required_reason(reason)
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
    require_household_in_scope(acting_user, removal.entry.household)
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
    reason = required_reason(reason)
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
