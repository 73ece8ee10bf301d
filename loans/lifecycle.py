"""The loan's state machine (DOMAIN §5), in the house style of workflow.py (applications) and
subsidies/workflow.py (batches): transitions are pure — they check the state and the role and set
nothing but the state. The services call `take` inside their transaction; it refuses the wrong
state or role, takes the step and writes the history row (LoanStateChange); the caller saves the
loan with its other figures and does the side effects (audit, settlement date...).

Kept apart from workflow.py because that module is the application's machine; a loan is a
different record with its own states, and both are mixed into their model in models.py.

    (creation) ─ disburse | import ─▶ active ⇄ overdue   (overdue / cure: the overnight ageing)
    (creation) ─ import ─▶ settled                     (the bank's books show nothing outstanding)
    active, overdue, extended ─ extend ─▶ extended
    active, overdue, extended ─ settle | replace ─▶ settled
    active, overdue, extended ─ compensate ─▶ compensated
    active, overdue, extended ─ write_off ─▶ written_off
    compensated, written_off ─ recover ─▶ settled

`disburse` and `import` are the creation itself, not methods: services/applications.py's
application_disburse creates the loan active, and the import of the bank's books
(services/imports.py) creates it active, or settled when the bank's list shows nothing
outstanding. Creating a loan with a state is allowed on a protected field; only assigning it
afterwards is not. `begin` writes their history row, so every loan's history starts with how it
began.

The overnight ageing (servicing.overdue_refresh) takes `overdue` and `cure` set-based, with a
queryset update and its history rows written in bulk; it does not call these methods."""

from collections.abc import Iterable
from functools import partial

from django_fsm import transition

from accounts.models import Role
from core import fsm

from .permissions import can_service

ACTIVE, OVERDUE, EXTENDED = "active", "overdue", "extended"
SETTLED, COMPENSATED, WRITTEN_OFF = "settled", "compensated", "written_off"
OPEN = [ACTIVE, OVERDUE, EXTENDED]


def _nobody(loan, user) -> bool:
    """Only the overnight ageing takes this transition."""
    return False


def _servicer(loan, user) -> bool:
    """Loan officers and administrators (permissions.can_service)."""
    return can_service(user)


def _compensator(loan, user) -> bool:
    """Loan officers and administrators, or finance staff of the loan's county, who move the loan
    when they pay its loss claim from the risk fund (riskfund/services/claims.py claim_pay)."""
    if _servicer(loan, user):
        return True
    return user.has_role(Role.FINANCE) and user.unit_id == loan.household.village.parent.parent_id


def _bank_approver(loan, user) -> bool:
    """An approver of the loan's branch or of the bank above it (changes.can_decide_extension)."""
    return user.has_role(Role.APPROVER) and user.unit_id in (loan.branch_id, loan.branch.parent_id)


class LoanLifecycle:
    """Mixed into Loan; `state` is its protected FSMField."""

    @transition(field="state", source=ACTIVE, target=OVERDUE, permission=_nobody)
    def overdue(self):
        pass

    @transition(field="state", source=OVERDUE, target=ACTIVE, permission=_nobody)
    def cure(self):
        pass

    @transition(field="state", source=OPEN, target=EXTENDED, permission=_bank_approver)
    def extend(self):
        pass

    @transition(field="state", source=OPEN, target=SETTLED, permission=_servicer)
    def settle(self):
        pass

    # The old loan of a renewal, closed at the renewal's disbursement by the disbursing officer.
    @transition(field="state", source=OPEN, target=SETTLED, permission=_servicer)
    def replace(self):
        pass

    @transition(field="state", source=OPEN, target=COMPENSATED, permission=_compensator)
    def compensate(self):
        pass

    @transition(field="state", source=OPEN, target=WRITTEN_OFF, permission=_servicer)
    def write_off(self):
        pass

    @transition(field="state", source=[COMPENSATED, WRITTEN_OFF], target=SETTLED, permission=_servicer)
    def recover(self):
        pass


def _history(loan, name: str, from_state: str, by, *, reason: str = "") -> None:
    loan.state_changes.create(
        transition=name, from_state=from_state, to_state=loan.state, by=by, reason=reason
    )


def take(loan, name: str, acting_user, reason: str = "", *, system: bool = False) -> str:
    """Take transition `name` on a locked loan and write its history row; the caller saves the
    loan. Returns the old state.

    The services refuse the wrong state or role first, with their own messages and codes; these
    refusals are the backstop should a step ever be taken outside them: the wrong state raises
    django-fsm's TransitionNotAllowed (409 `transition_not_allowed`, core/api.py), the wrong role
    Django's PermissionDenied (403), core/fsm.py's defaults."""
    return fsm.take(
        loan, name, acting_user, system=system, save=False, record=partial(_history, reason=reason)
    )


def begin(loans: Iterable, name: str, acting_user, reason: str = "") -> None:
    """Write the first history row of loans just created, saying how each began: `disburse` at
    the application's disbursement (whose own transition checked the role), or `import` from the
    bank's books. A loan has no state before it exists, so the row's from_state is blank; its
    to_state is the state the loan was created in. A whole import's rows go in bulk."""
    # models.py imports this module (LoanLifecycle), so its model is imported here.
    from .models import LoanStateChange

    rows = [
        LoanStateChange(
            loan=loan, transition=name, from_state="", to_state=loan.state, by=acting_user, reason=reason
        )
        for loan in loans
    ]
    LoanStateChange.objects.bulk_create(rows, batch_size=500)
