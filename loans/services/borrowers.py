"""What is recorded about a loan's borrower and its cover after disbursement (DOMAIN §7):
marking a malicious defaulter, a borrower's death or disability, insurance policies and payouts,
and the borrower's account. The rule helpers (scope, reasons, refusals naming their rule) are
changes.py's, so a refusal here reads like one there.

The role is checked first, then the scope, then the rules, so the answer to someone who may not
act never reveals the household's situation."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from core import fsm
from core.audit import audit
from core.exceptions import ApplicationError, ConflictError, NotPermitted
from households import selectors as household_selectors
from households.models import BlacklistEntry, Member
from households.services.blacklist import blacklist_add

from ..accounts import normalise_account_no
from ..models import BorrowerEvent, InsurancePayout, InsurancePolicy, Loan
from ..permissions import require_loan_in_scope, require_servicer
from .changes import lock_loan, refuse, rule_failure

# ---------------------------------------------------------------------------------------------
# Malicious default (恶意逃债)


@transaction.atomic
def loan_mark_malicious_default(*, acting_user, loan: Loan, reason: str) -> BlacklistEntry:
    """A malicious defaulter's household goes on the blacklist, with the reason and who decided
    (P1 art.22); the blacklist then blocks new applications, renewals and extensions."""
    if not acting_user.has_role(Role.LOAN_OFFICER, Role.COUNTY_OFFICE):
        raise NotPermitted(_("Only the county poverty office and bank loan officers keep the blacklist."))
    require_loan_in_scope(acting_user, loan)
    reason = fsm.require_reason(reason, "reason")
    entry = blacklist_add(acting_user=acting_user, household=loan.household, reason=reason)
    audit(
        actor=acting_user,
        action="loan.malicious_default",
        obj=loan,
        reason=reason,
        data={"blacklist_entry": entry.pk, "household": loan.household_id},
    )
    return entry


# ---------------------------------------------------------------------------------------------
# Death, disability and insurance (DOMAIN §7)


def _insurance_and_events_only() -> str:
    return _("Only loan officers and administrators record insurance and borrower events.")


def _not_future(day: datetime.date, field: str) -> None:
    if day > timezone.localdate():
        raise ApplicationError(_("The date cannot be in the future."), "invalid", field=field)


@transaction.atomic
def borrower_event_record(
    *, acting_user, member: Member, kind: str, occurred_on: datetime.date, note: str = ""
) -> BorrowerEvent:
    """A borrower's death or disability, which the insurer and then the risk fund act on."""
    require_servicer(acting_user, _insurance_and_events_only())
    if not household_selectors.household_list(user=acting_user).filter(pk=member.household_id).exists():
        raise NotPermitted(_("This household is outside your area."))
    _not_future(occurred_on, "occurred_on")
    event = BorrowerEvent(
        member=member, kind=kind, occurred_on=occurred_on, note=note or "", recorded_by=acting_user
    )
    event.full_clean(validate_unique=False, validate_constraints=False)
    # The unique constraint (one death, one disability per member) decides, also in a race.
    try:
        with transaction.atomic():
            event.save()
    except IntegrityError:
        raise ConflictError(
            _("This %(kind)s is already recorded for %(member)s.")
            % {"kind": event.get_kind_display(), "member": member.name},
            "duplicate_event",
        ) from None
    audit(
        actor=acting_user,
        action="member.event",
        obj=event,
        reason=note or "",
        data={"member": member.pk, "kind": kind, "occurred_on": str(occurred_on)},
    )
    return event


@transaction.atomic
def insurance_policy_add(
    *,
    acting_user,
    loan: Loan,
    kind: str,
    insurer: str,
    policy_no: str,
    premium: Decimal,
    starts_on: datetime.date,
    ends_on: datetime.date,
    fiscal_paid: bool = False,
) -> InsurancePolicy:
    require_servicer(acting_user, _insurance_and_events_only())
    require_loan_in_scope(acting_user, loan)
    if Decimal(premium) < 0:
        raise ApplicationError(_("The premium cannot be negative."), "invalid", field="premium")
    if ends_on <= starts_on:
        raise ApplicationError(_("The policy must end after it starts."), "invalid", field="ends_on")
    policy = InsurancePolicy(
        loan=loan,
        kind=kind,
        insurer=(insurer or "").strip(),
        policy_no=(policy_no or "").strip(),
        premium=premium,
        fiscal_paid=bool(fiscal_paid),
        starts_on=starts_on,
        ends_on=ends_on,
        recorded_by=acting_user,
    )
    policy.full_clean(validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise ConflictError(
            _("This insurer's policy number is already recorded."), "duplicate_policy", field="policy_no"
        ) from None
    audit(
        actor=acting_user,
        action="loan.insurance_policy",
        obj=loan,
        data={"policy": policy.pk, "insurer": policy.insurer, "policy_no": policy.policy_no},
    )
    return policy


@transaction.atomic
def insurance_payout_record(
    *, acting_user, policy: InsurancePolicy, amount: Decimal, paid_on: datetime.date, reason: str
) -> InsurancePayout:
    """An insurer's payment on a policy. The payouts on one policy together never exceed the
    loan's amount: the insurer pays the loan first (P1 art.21) and there is no more to cover.
    The outstanding plus interest would be a tighter limit, but the outstanding falls as the
    payout is applied, so the loan's amount is the limit that stays true over time."""
    require_servicer(acting_user, _insurance_and_events_only())
    # The policy row lock makes two payouts entered at once take turns on the total.
    policy = InsurancePolicy.objects.select_for_update(of=("self",)).select_related("loan").get(pk=policy.pk)
    require_loan_in_scope(acting_user, policy.loan)
    reason = fsm.require_reason(reason, "reason")
    amount = Decimal(amount)
    if amount <= 0:
        raise ApplicationError(_("The amount paid must be more than zero."), "invalid", field="amount")
    if amount != amount.quantize(Decimal("0.01")):
        raise ApplicationError(_("Amounts are kept to the fen (two decimals)."), "invalid", field="amount")
    _not_future(paid_on, "paid_on")
    if paid_on < policy.starts_on:
        raise ApplicationError(
            _("The payout cannot be before the policy starts on %(date)s.") % {"date": policy.starts_on},
            "invalid",
            field="paid_on",
        )
    paid = policy.payouts.aggregate(total=Sum("amount"))["total"] or Decimal("0.00")
    limit = policy.loan.amount
    if paid + amount > limit:
        refuse(
            [
                rule_failure(
                    "payout_within_loan",
                    _(
                        "%(paid)s yuan is already paid on this policy; with %(amount)s more it would exceed "
                        "the loan's %(limit)s yuan."
                    )
                    % {"paid": paid, "amount": amount, "limit": limit},
                )
            ],
            field="amount",
        )
    payout = InsurancePayout(
        policy=policy, amount=amount, paid_on=paid_on, reason=reason, recorded_by=acting_user
    )
    payout.full_clean()
    payout.save()
    audit(
        actor=acting_user,
        action="loan.insurance_payout",
        obj=policy.loan,
        reason=reason,
        data={"policy": policy.pk, "payout": payout.pk, "amount": str(amount)},
    )
    return payout


# ---------------------------------------------------------------------------------------------
# The borrower's account


@transaction.atomic
def loan_account_set(*, acting_user, loan: Loan, account_no: str, reason: str) -> Loan:
    """Record or correct the borrower's account at the lending bank on a loan: the account the
    bank debits interest from and the subsidy is paid to (DOMAIN §3; P3 §3.6). A subsidy batch
    is not reviewed while a loan it pays has none. Audited with the old and new account."""
    require_servicer(acting_user, _("Only loan officers and administrators record a loan's account."))
    loan = lock_loan(loan)
    require_loan_in_scope(acting_user, loan)
    account_no = (account_no or "").strip()
    if not account_no:
        raise ApplicationError(
            _("Enter the borrower's account at the lending bank."), "invalid", field="account_no"
        )
    account_no = normalise_account_no(account_no)
    reason = fsm.require_reason(reason, "reason")
    old = loan.account_no
    if old == account_no:
        return loan
    loan.account_no = account_no
    loan.save(update_fields=["account_no"])
    audit(
        actor=acting_user,
        action="loan.account",
        obj=loan,
        reason=reason,
        data={"old": old, "new": account_no},
    )
    return loan
