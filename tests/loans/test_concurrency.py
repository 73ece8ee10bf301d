"""Two people take the same step at the same moment, in real threads with their own PostgreSQL
connections: the row lock in the services lets exactly one through, the other is refused with
409, and nothing is written twice.

These tests need committed data that the threads can see, so they run outside the per-test
transaction (`transaction=True`); `serialized_rollback` puts back the migrated rows (roles,
rates, calendar) that the flush after each transactional test removes."""

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from core.exceptions import ApplicationError
from core.models import AuditEvent
from loans.exceptions import TransitionNotAllowed
from loans.models import ApplicationHistory, Loan, LoanApplication, PublicityNotice
from loans.services import applications
from loans.workflow import State
from tests.concurrency import run_together

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_two_disbursements_of_one_application_make_one_loan(world, new_application, drive):
    app = drive(new_application(), State.APPROVED)
    audit_before = AuditEvent.objects.count()

    def disburse(contract_no, receipt_no):
        def call():
            client = APIClient()
            # Each thread loads its own user: nothing is shared between the two requests.
            client.force_authenticate(User.objects.get(pk=world.officer.pk))
            return client.post(
                f"/api/v1/applications/{app.pk}/transitions/disburse/",
                {"contract_no": contract_no, "receipt_no": receipt_no},
                format="json",
            )

        return call

    outcomes = run_together(app, disburse("HT-A", "JJ-A"), disburse("HT-B", "JJ-B"))

    assert [kind for kind, _ in outcomes] == ["ok", "ok"], outcomes
    responses = [r for _, r in outcomes]
    assert sorted(r.status_code for r in responses) == [200, 409], [r.content for r in responses]
    winner = next(r for r in responses if r.status_code == 200)
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["code"] == "transition_not_allowed"
    assert loser.json()["extra"]["state"] == "disbursed"

    loan = Loan.objects.get()
    assert loan.application_id == app.pk and winner.json()["loan"] == loan.pk
    assert (loan.contract_no, loan.receipt_no) in {("HT-A", "JJ-A"), ("HT-B", "JJ-B")}
    assert LoanApplication.objects.get(pk=app.pk).state == State.DISBURSED
    assert ApplicationHistory.objects.filter(application=app, transition="disburse").count() == 1
    # The refused request left no trace: one audit row for the step and one for the loan.
    added = AuditEvent.objects.count() - audit_before
    assert added == 2
    assert AuditEvent.objects.filter(action="application.disburse").count() == 1
    assert AuditEvent.objects.filter(action="loan.disburse").count() == 1


def test_two_disbursements_through_the_service(world, new_application, drive):
    """The same race one level down, where the loser's error is the exception itself."""
    app = drive(new_application(), State.APPROVED)

    def disburse(n):
        def call():
            return applications.application_disburse(
                acting_user=User.objects.get(pk=world.officer.pk),
                application=LoanApplication.objects.get(pk=app.pk),
                contract_no=f"HT-S{n}",
                receipt_no=f"JJ-S{n}",
            )

        return call

    outcomes = run_together(app, disburse(1), disburse(2))

    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error", "ok"], outcomes
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, TransitionNotAllowed) and error.status_code == 409
    loan = next(value for kind, value in outcomes if kind == "ok")
    assert list(Loan.objects.values_list("pk", flat=True)) == [loan.pk]
    assert ApplicationHistory.objects.filter(application=app, transition="disburse").count() == 1


def test_two_village_approvals_put_up_one_set_of_notices(world, new_application, drive):
    app = drive(new_application(), State.VILLAGE_REVIEW)

    def approve():
        return applications.application_village_approve(
            acting_user=User.objects.get(pk=world.cadre.pk),
            application=LoanApplication.objects.get(pk=app.pk),
        )

    outcomes = run_together(app, approve, approve)

    kinds = sorted(kind for kind, _ in outcomes)
    assert kinds == ["error", "ok"], outcomes
    error = next(value for kind, value in outcomes if kind == "error")
    assert isinstance(error, ApplicationError) and error.code == "transition_not_allowed"
    assert LoanApplication.objects.get(pk=app.pk).state == State.PUBLICITY
    notices = PublicityNotice.objects.filter(application=app)
    assert sorted(notices.values_list("level", flat=True)) == ["county", "township", "village"]
    assert PublicityNotice.objects.count() == 3
    assert ApplicationHistory.objects.filter(application=app, transition="village_approve").count() == 1
    assert AuditEvent.objects.filter(action="application.village_approve").count() == 1
