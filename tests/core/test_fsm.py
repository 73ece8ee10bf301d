"""core/fsm.py, the steps every state machine takes the same way: the row lock, the refusal of the
wrong state before the wrong role, the transition, the save and the caller's record, and the
reason a step asks for. Shown on a loan (loans/lifecycle.py), whose machine has a step anyone in
the bank's servicing roles may take (settle) and one only the overnight ageing takes (overdue)."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_fsm import TransitionNotAllowed

from core import fsm
from core.exceptions import ApplicationError, ConflictError, NotPermitted
from loans.models import Loan
from tests.factories import HouseholdFactory, LoanFactory

S = Loan.State


@pytest.fixture
def loan(world):
    return LoanFactory(household=HouseholdFactory(village=world.v1a), branch=world.br1)


def not_allowed(obj, name):
    return ConflictError(f"not from {obj.state}", "transition_not_allowed")


def denied(obj, name, user):
    return NotPermitted(f"not {user.username}")


def test_lock_rereads_the_row_for_update_with_its_related_rows(loan):
    Loan.objects.filter(pk=loan.pk).update(outstanding=1000)
    with CaptureQueriesContext(connection) as queries:
        locked = fsm.lock(Loan(pk=loan.pk), related=("branch__parent", "household"))
        assert locked.outstanding == 1000
        assert locked.branch.parent.name and locked.household.pk == loan.household_id
    (sql,) = [q["sql"] for q in queries.captured_queries]
    # Only the loan's own row is locked, not the joined branch and household.
    assert sql.endswith('FOR UPDATE OF "loans_loan"')


def test_lock_no_key(loan):
    with CaptureQueriesContext(connection) as queries:
        fsm.lock(loan, no_key=True)
    assert queries.captured_queries[0]["sql"].endswith('FOR NO KEY UPDATE OF "loans_loan"')


def test_guard_refuses_the_state_before_the_role(world, loan):
    Loan.objects.filter(pk=loan.pk).update(state=S.SETTLED)
    loan.refresh_from_db()
    # The cadre may not settle at all, but the wrong state is what they are told (409, not 403).
    with pytest.raises(ConflictError, match="not from settled"):
        fsm.guard(loan, "settle", world.cadre, not_allowed=not_allowed, denied=denied)


def test_guard_refuses_the_role(world, loan):
    with pytest.raises(NotPermitted, match="not cadre"):
        fsm.guard(loan, "settle", world.cadre, not_allowed=not_allowed, denied=denied)
    fsm.guard(loan, "settle", world.officer, not_allowed=not_allowed, denied=denied)


def test_guard_lets_the_system_take_a_step_nobody_may(loan):
    with pytest.raises(PermissionDenied):
        fsm.guard(loan, "overdue", None)
    fsm.guard(loan, "overdue", None, system=True)


def test_the_default_refusals_are_django_fsms_and_djangos(world, loan):
    with pytest.raises(TransitionNotAllowed, match="Can't switch from state 'active' using method 'cure'"):
        fsm.guard(loan, "cure", world.officer)
    with pytest.raises(PermissionDenied):
        fsm.guard(loan, "settle", world.cadre)


def test_take_saves_and_records(world, loan):
    calls = []
    old = fsm.take(loan, "settle", world.officer, record=lambda *args: calls.append(args))
    assert old == S.ACTIVE
    assert Loan.objects.get(pk=loan.pk).state == S.SETTLED
    assert calls == [(loan, "settle", S.ACTIVE, world.officer)]


def test_take_by_the_system_records_nobody_and_may_leave_the_save_to_the_caller(loan):
    calls = []
    fsm.take(loan, "overdue", None, system=True, save=False, record=lambda *args: calls.append(args))
    assert loan.state == S.OVERDUE
    assert Loan.objects.get(pk=loan.pk).state == S.ACTIVE
    assert calls == [(loan, "overdue", S.ACTIVE, None)]


def test_a_refused_take_changes_and_records_nothing(world, loan):
    calls = []
    with pytest.raises(NotPermitted):
        fsm.take(loan, "settle", world.cadre, record=calls.append, not_allowed=not_allowed, denied=denied)
    assert loan.state == S.ACTIVE and calls == []


@pytest.mark.parametrize("reason", ["", "   ", None, 5])
def test_require_reason_refuses_a_blank_reason(reason):
    with pytest.raises(ApplicationError) as caught:
        fsm.require_reason(reason, "comment")
    assert (caught.value.code, caught.value.field, caught.value.status_code) == ("invalid", "comment", 400)


def test_require_reason_gives_it_back_stripped():
    assert fsm.require_reason("  洪灾  ", "reason") == "洪灾"
