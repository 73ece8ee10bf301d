"""The loss split to the fen, the claim's steps with their roles and four-eyes, and the payment
that posts the ledger and compensates the loan (DOMAIN §8; P1 arts. 8(3), 39)."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection

from core.audit import AuditEvent
from core.exceptions import ApplicationError, ConflictError, NotPermitted
from loans.models import Loan, LoanStateChange
from riskfund import steps
from riskfund.models import ClaimHistory, CompensationClaim, LedgerTransaction
from riskfund.services import claims, ledger
from tests.concurrency import run_together

from .claim_helpers import ROLES, approved, file, make_loan, second_user, unpaid_settlement

pytestmark = pytest.mark.django_db


def set_profile(world, **fields):
    for name, value in fields.items():
        setattr(world.profile, name, value)
    world.profile.save()


# ---- the split -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "remainder_to, fund_share, bank_share",
    [("bank", "800.00", "200.01"), ("fund", "800.01", "200.00")],
)
def test_odd_fen_goes_to_the_side_the_profile_names(world, remainder_to, fund_share, bank_share):
    set_profile(world, fund_loss_share=Decimal("0.8000"), loss_remainder_to=remainder_to)
    claim = file(world, make_loan(world, outstanding=Decimal("1000.01")))
    assert claim.loss == Decimal("1000.01")
    assert (claim.fund_share, claim.bank_share) == (Decimal(fund_share), Decimal(bank_share))
    assert (claim.fund_ratio, claim.remainder_to) == (Decimal("0.8000"), remainder_to)


def test_a_ratio_with_more_places(world):
    # 333.33 × 0.7 = 233.331 → the fund 233.33 (remainder to the bank), the bank 100.00.
    set_profile(
        world, fund_loss_share=Decimal("0.7000"), loss_remainder_to="bank", loss_includes_interest=False
    )
    claim = file(world, make_loan(world, outstanding=Decimal("333.33")))
    assert (claim.fund_share, claim.bank_share) == (Decimal("233.33"), Decimal("100.00"))
    set_profile(world, loss_remainder_to="fund")
    claim = file(world, make_loan(world, outstanding=Decimal("333.33")))
    assert (claim.fund_share, claim.bank_share) == (Decimal("233.34"), Decimal("99.99"))


def test_interest_included(world):
    set_profile(world, loss_includes_interest=True, loss_remainder_to="bank")
    loan = make_loan(world, outstanding=Decimal("30000.00"))
    unpaid_settlement(world, loan, "356.25")
    claim = file(world, loan)
    # 30,000.00 + 356.25 = 30,356.25; × 0.8 = 24,285.00; the bank 6,071.25
    assert (claim.principal, claim.interest, claim.loss) == (
        Decimal("30000.00"),
        Decimal("356.25"),
        Decimal("30356.25"),
    )
    assert (claim.fund_share, claim.bank_share) == (Decimal("24285.00"), Decimal("6071.25"))


def test_interest_excluded(world):
    set_profile(world, loss_includes_interest=False)
    loan = make_loan(world, outstanding=Decimal("30000.00"))
    unpaid_settlement(world, loan, "356.25")
    claim = file(world, loan)
    assert (claim.interest, claim.loss, claim.fund_share, claim.bank_share) == (
        Decimal("0.00"),
        Decimal("30000.00"),
        Decimal("24000.00"),
        Decimal("6000.00"),
    )
    assert claim.profile_id == world.profile.pk


# ---- steps ---------------------------------------------------------------------------------------


def test_the_whole_way_with_history_and_audit(world):
    loan = make_loan(world, outstanding=Decimal("10000.00"), state="overdue")
    before = ledger.balance(world.fund)
    claim = approved(world, loan)
    assert claim.state == "approved"
    assert claim.committee_members == "张三、李四、王五"
    assert steps.available(claim, world.finance) == ["pay"]
    claim = claims.claim_pay(acting_user=world.finance, claim=claim, paid_on=datetime.date(2026, 6, 17))
    assert claim.state == "paid"
    assert ledger.balance(world.fund) == before - Decimal("8000.00")
    txn = LedgerTransaction.objects.get(claim=claim)
    assert txn.kind == "compensation"
    assert sorted((e.account, e.amount) for e in txn.entries.all()) == [
        ("compensation", Decimal("8000.00")),
        ("fund", Decimal("-8000.00")),
    ]
    loan = Loan.objects.get(pk=loan.pk)
    assert loan.state == "compensated"
    change = LoanStateChange.objects.get(loan=loan, transition="compensate")
    assert (change.from_state, change.to_state, change.by) == ("overdue", "compensated", world.finance)
    assert list(ClaimHistory.objects.filter(claim=claim).values_list("transition", "to_state")) == [
        ("file", "filed"),
        ("review", "reviewed"),
        ("approve", "approved"),
        ("pay", "paid"),
    ]
    actions = set(AuditEvent.objects.filter(object_id=str(claim.pk)).values_list("action", flat=True))
    assert {"compensation_claim.file", "compensation_claim.review", "compensation_claim.pay"} <= actions


def test_approval_needs_the_members(world):
    claim = file(world, make_loan(world))
    claims.claim_review(acting_user=world.county_office, claim=claim)
    with pytest.raises(ApplicationError) as e:
        claims.claim_approve(acting_user=world.committee, claim=claim, committee_members="  ")
    assert (e.value.code, e.value.field) == ("invalid", "committee_members")


def test_roles(world):
    claim = file(world, make_loan(world))
    for user in (world.officer, world.committee, world.finance):
        with pytest.raises(NotPermitted):
            claims.claim_review(acting_user=user, claim=claim)
    with pytest.raises(ConflictError) as e:
        claims.claim_pay(acting_user=world.finance, claim=claim)
    assert e.value.code == "transition_not_allowed"
    other_county = second_user(world, ROLES.COUNTY_OFFICE, unit=world.other_county)
    with pytest.raises(NotPermitted):
        claims.claim_review(acting_user=other_county, claim=claim)


def test_reject_at_review_and_at_decision(world):
    claim = file(world, make_loan(world))
    with pytest.raises(ApplicationError):
        claims.claim_reject(acting_user=world.county_office, claim=claim, reason="")
    claim = claims.claim_reject(acting_user=world.county_office, claim=claim, reason="材料不全")
    assert claim.state == "rejected"
    # A rejected claim may be filed again.
    claim = file(world, claim.loan)
    claims.claim_review(acting_user=world.county_office, claim=claim)
    with pytest.raises(NotPermitted):
        claims.claim_reject(acting_user=world.county_office, claim=claim, reason="x")
    claim = claims.claim_reject(acting_user=world.committee, claim=claim, reason="未尽追偿义务")
    assert (claim.state, claim.decided_by) == ("rejected", world.committee)


def test_withdraw_by_the_bank(world):
    claim = file(world, make_loan(world))
    with pytest.raises(NotPermitted):
        claims.claim_withdraw(acting_user=world.county_office, claim=claim, reason="x")
    claim = claims.claim_withdraw(acting_user=world.officer, claim=claim, reason="借款人已还款")
    assert claim.state == "withdrawn"


def test_four_eyes_the_reviewer_does_not_decide(world):
    both = second_user(world, ROLES.COUNTY_OFFICE, ROLES.FUND_COMMITTEE)
    claim = file(world, make_loan(world))
    claims.claim_review(acting_user=both, claim=claim)
    with pytest.raises(NotPermitted) as e:
        claims.claim_approve(acting_user=both, claim=claim, committee_members="张三")
    assert e.value.code == "four_eyes"
    with pytest.raises(NotPermitted) as e:
        claims.claim_reject(acting_user=both, claim=claim, reason="x")
    assert e.value.code == "four_eyes"


def test_four_eyes_the_decider_does_not_pay(world):
    both = second_user(world, ROLES.FUND_COMMITTEE, ROLES.FINANCE)
    claim = file(world, make_loan(world))
    claims.claim_review(acting_user=world.county_office, claim=claim)
    claims.claim_approve(acting_user=both, claim=claim, committee_members="张三、李四")
    with pytest.raises(NotPermitted) as e:
        claims.claim_pay(acting_user=both, claim=claim)
    assert e.value.code == "four_eyes"
    assert steps.available(CompensationClaim.objects.get(pk=claim.pk), both) == []


def test_pay_date_not_in_the_future(world):
    claim = approved(world, make_loan(world))
    with pytest.raises(ApplicationError) as e:
        claims.claim_pay(acting_user=world.finance, claim=claim, paid_on=datetime.date(2026, 6, 18))
    assert e.value.field == "paid_on"


def test_a_payment_beyond_the_balance_leaves_everything_as_it_was(world):
    loan = make_loan(world, outstanding=Decimal("10000.00"), state="overdue")
    claim = approved(world, loan)
    # Leave 7,999.99 in the fund: the fund's share is 8,000.00.
    ledger.movement_record(
        acting_user=world.finance,
        fund=world.fund,
        kind="withdrawal",
        amount=ledger.balance(world.fund) - Decimal("7999.99"),
        memo="调出",
    )
    transactions = LedgerTransaction.objects.count()
    with pytest.raises(ApplicationError) as e:
        claims.claim_pay(acting_user=world.finance, claim=claim)
    assert e.value.extra["rules"][0]["rule"] == "fund_balance"
    assert ledger.balance(world.fund) == Decimal("7999.99")
    assert LedgerTransaction.objects.count() == transactions
    claim = CompensationClaim.objects.get(pk=claim.pk)
    assert (claim.state, claim.paid_on, claim.paid_by) == ("approved", None, None)
    assert Loan.objects.get(pk=loan.pk).state == "overdue"
    assert not LoanStateChange.objects.filter(loan=loan, transition="compensate").exists()
    assert not ClaimHistory.objects.filter(claim=claim, transition="pay").exists()


def test_exactly_the_balance_is_paid(world):
    claim = approved(world, make_loan(world, outstanding=Decimal("10000.00")))
    ledger.movement_record(
        acting_user=world.finance,
        fund=world.fund,
        kind="withdrawal",
        amount=ledger.balance(world.fund) - Decimal("8000.00"),
        memo="调出",
    )
    claims.claim_pay(acting_user=world.finance, claim=claim)
    assert ledger.balance(world.fund) == Decimal("0.00")


# ---- two payments at the same moment ------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks and real concurrency: PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_payments_that_together_would_overdraw_one_is_refused(world):
    """Two approved claims of 8,000.00 each on a fund holding 12,000.00, paid by two finance
    officers at once, in real threads with their own connections: the fund's row lock lets one
    through; the other sees the balance it left and is refused; nothing of it is written."""
    loans = [make_loan(world, outstanding=Decimal("10000.00"), state="overdue") for _ in range(2)]
    pending = [approved(world, loan) for loan in loans]
    ledger.movement_record(
        acting_user=world.finance,
        fund=world.fund,
        kind="withdrawal",
        amount=ledger.balance(world.fund) - Decimal("12000.00"),
        memo="调出",
    )
    payers = [world.finance.pk, second_user(world, ROLES.FINANCE).pk]

    def pay(i):
        def call():
            from accounts.models import User

            claim = CompensationClaim.objects.get(pk=pending[i].pk)
            return claims.claim_pay(acting_user=User.objects.get(pk=payers[i]), claim=claim)

        return call

    outcomes = run_together(world.fund, pay(0), pay(1))
    assert sorted(kind for kind, _ in outcomes) == ["error", "ok"], outcomes
    (refusal,) = [value for kind, value in outcomes if kind == "error"]
    assert isinstance(refusal, ApplicationError) and refusal.extra["rules"][0]["rule"] == "fund_balance"
    assert ledger.balance(world.fund) == Decimal("4000.00")
    states = sorted(
        CompensationClaim.objects.filter(pk__in=[c.pk for c in pending]).values_list("state", flat=True)
    )
    assert states == ["approved", "paid"]
    assert sorted(
        Loan.objects.filter(pk__in=[loan.pk for loan in loans]).values_list("state", flat=True)
    ) == [
        "compensated",
        "overdue",
    ]
    assert LedgerTransaction.objects.filter(kind="compensation").count() == 1
