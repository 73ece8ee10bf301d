"""The loan's state machine (loans/lifecycle.py): each transition from each state, its role, its
history row, and the protected state."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django_fsm import TransitionNotAllowed, can_proceed

from loans import lifecycle
from loans.models import Loan, LoanStateChange
from loans.services import changes, servicing
from loans.workflow import State as AppState
from tests.loans.test_changes import start_renewal
from tests.loans.test_settlements import make_loan

D = datetime.date
S = Loan.State

# transition → (the states it leaves, its target, who may take it: "nobody", "servicer", "approver")
MACHINE = {
    "overdue": ([S.ACTIVE], S.OVERDUE, "nobody"),
    "cure": ([S.OVERDUE], S.ACTIVE, "nobody"),
    "extend": (Loan.OPEN_STATES, S.EXTENDED, "approver"),
    "settle": (Loan.OPEN_STATES, S.SETTLED, "servicer"),
    "replace": (Loan.OPEN_STATES, S.SETTLED, "servicer"),
    # Finance of the loan's county too, paying its loss claim (riskfund's claim_pay).
    "compensate": (Loan.OPEN_STATES, S.COMPENSATED, "compensator"),
    "write_off": (Loan.OPEN_STATES, S.WRITTEN_OFF, "servicer"),
    "recover": ([S.COMPENSATED, S.WRITTEN_OFF], S.SETTLED, "servicer"),
}
CASES = [(name, state) for name in MACHINE for state in S.values]


@pytest.fixture
def loan_in(world, household):
    def make(state) -> Loan:
        outstanding = Decimal("0") if state == S.SETTLED else Decimal("30000")
        return make_loan(household, world, state=state, outstanding=outstanding)

    return make


@pytest.mark.parametrize(("name", "state"), CASES)
def test_each_transition_from_each_state(world, loan_in, name, state):
    sources, target, _who = MACHINE[name]
    loan = loan_in(state)
    if state in sources:
        assert can_proceed(getattr(loan, name))
        lifecycle.take(loan, name, None, "why", system=True)
        loan.save(update_fields=["state"])
        assert Loan.objects.get(pk=loan.pk).state == target
        row = LoanStateChange.objects.get(loan=loan)
        assert (row.transition, row.from_state, row.to_state, row.by, row.reason) == (
            name, state, target, None, "why",
        )  # fmt: skip
    else:
        assert not can_proceed(getattr(loan, name))
        with pytest.raises(TransitionNotAllowed):
            lifecycle.take(loan, name, None, system=True)
        assert Loan.objects.get(pk=loan.pk).state == state
        assert not LoanStateChange.objects.filter(loan=loan).exists()


@pytest.mark.parametrize("name", list(MACHINE))
def test_each_transition_checks_the_role(world, loan_in, name):
    sources, target, who = MACHINE[name]
    allowed = {
        "nobody": set(),
        "servicer": {"officer", "admin"},
        "compensator": {"officer", "admin", "finance"},
        "approver": {"approver"},
    }[who]
    for role in ("cadre", "township_officer", "county_office", "officer", "approver", "finance", "admin"):
        user = getattr(world, role)
        loan = loan_in(sources[0])
        if role in allowed:
            lifecycle.take(loan, name, user, "why")
            loan.save(update_fields=["state"])
            row = LoanStateChange.objects.get(loan=loan)
            assert (row.by, row.from_state, row.to_state) == (user, sources[0], target)
        else:
            with pytest.raises(PermissionDenied):
                lifecycle.take(loan, name, user)
            assert Loan.objects.get(pk=loan.pk).state == sources[0]
            assert not LoanStateChange.objects.filter(loan=loan).exists()


def test_extend_needs_an_approver_of_the_loans_bank(world, household):
    elsewhere = make_loan(household, world, branch=world.br2)  # the approver is at the first branch
    with pytest.raises(PermissionDenied):
        lifecycle.take(elsewhere, "extend", world.approver)


def test_the_state_is_protected(world, loan_in):
    loan = loan_in(S.ACTIVE)
    with pytest.raises(AttributeError):
        loan.state = S.SETTLED
    # Creation with a state and a queryset update are allowed; refresh_from_db reloads it.
    Loan.objects.filter(pk=loan.pk).update(state=S.OVERDUE)
    loan.refresh_from_db()
    assert loan.state == S.OVERDUE
    loan.full_clean(exclude=["application", "disbursed_by"], validate_unique=False)  # validates, sets nothing


def test_repayment_in_full_settles_with_its_history_row(world, loan_in):
    loan = loan_in(S.OVERDUE)
    servicing.repayment_record(
        acting_user=world.officer, loan=loan, principal=Decimal("30000"), paid_on=D(2026, 6, 1), note="还清"
    )
    row = LoanStateChange.objects.get(loan=loan)
    assert (row.transition, row.from_state, row.to_state, row.by, row.reason) == (
        "settle", S.OVERDUE, S.SETTLED, world.officer, "还清",
    )  # fmt: skip


def test_extension_approval_extends_with_its_history_row(world, loan_in):
    loan = loan_in(S.ACTIVE)
    ext = changes.extension_request(acting_user=world.officer, loan=loan, months=6, reason="洪灾减产")
    changes.extension_decide(acting_user=world.approver, extension=ext, approve=True, comment="同意")
    row = LoanStateChange.objects.get(loan=loan)
    assert (row.transition, row.from_state, row.to_state, row.by, row.reason) == (
        "extend", S.ACTIVE, S.EXTENDED, world.approver, "同意",
    )  # fmt: skip


def test_renewal_replaces_with_its_history_row(world, loan_in, drive):
    loan = loan_in(S.ACTIVE)
    app = drive(start_renewal(world, loan), AppState.DISBURSED)
    row = LoanStateChange.objects.get(loan=loan)
    assert (row.transition, row.from_state, row.to_state, row.by) == (
        "replace", S.ACTIVE, S.SETTLED, app.loan.disbursed_by,
    )  # fmt: skip


def test_overnight_ageing_writes_overdue_and_cure_in_bulk(world, household):
    loan = make_loan(household, world, disbursed_on=D(2023, 2, 28), maturity_on=D(2024, 2, 29))
    servicing.overdue_refresh(on_date=D(2024, 3, 1))
    assert Loan.objects.get(pk=loan.pk).state == S.OVERDUE
    row = LoanStateChange.objects.get(loan=loan)
    assert (row.transition, row.from_state, row.to_state, row.by) == ("overdue", S.ACTIVE, S.OVERDUE, None)
    servicing.overdue_refresh(on_date=D(2024, 3, 1))  # a second run writes nothing
    assert LoanStateChange.objects.filter(loan=loan).count() == 1
    # Cured: the principal is paid, so nothing is past due any more.
    Loan.objects.filter(pk=loan.pk).update(outstanding=0)
    servicing.overdue_refresh(on_date=D(2024, 3, 2))
    assert Loan.objects.get(pk=loan.pk).state == S.ACTIVE
    last = LoanStateChange.objects.filter(loan=loan).last()
    assert (last.transition, last.from_state, last.to_state, last.by) == ("cure", S.OVERDUE, S.ACTIVE, None)
