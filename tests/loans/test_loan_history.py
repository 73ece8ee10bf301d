"""Every loan's history (LoanStateChange) starts with how the loan began: `disburse` when an
approved application is disbursed, `import` when the bank's books are imported, from no state
(a blank from_state) to the state the loan was created in (loans/lifecycle.py `begin`). The
history is shown read-only in the Django admin."""

import pytest
from django.urls import reverse

from loans.models import Loan, LoanStateChange
from loans.services import applications
from loans.services.imports import import_loans
from loans.workflow import State
from tests.factories import HouseholdFactory, MemberFactory, UserFactory
from tests.loans.test_changes import start_renewal
from tests.loans.test_loan_import import csv_file, row
from tests.loans.test_settlements import make_loan

S = Loan.State


def history(loan) -> list[tuple]:
    return list(
        LoanStateChange.objects.filter(loan=loan).values_list(
            "transition", "from_state", "to_state", "by", "reason"
        )
    )


def test_disbursement_starts_the_loans_history(world, new_application, drive):
    app = drive(new_application(), State.APPROVED)
    loan = applications.application_disburse(
        acting_user=world.officer,
        application=app,
        contract_no="HT-9001",
        receipt_no="JJ-9001",
        comment="按期放款",
    )
    assert history(loan) == [("disburse", "", S.ACTIVE, world.officer.pk, "按期放款")]


def test_a_renewals_new_loan_begins_by_disbursement_and_the_old_one_is_replaced(world, household, drive):
    old = make_loan(household, world)
    app = drive(start_renewal(world, old), State.DISBURSED)
    assert [row[:3] for row in history(app.loan)] == [("disburse", "", S.ACTIVE)]
    assert [row[:3] for row in history(old)] == [("replace", S.ACTIVE, S.SETTLED)]


def test_the_import_starts_each_loans_history_in_its_state(world, household):
    spouse = MemberFactory(household=HouseholdFactory(village=world.v1b), name="李四")
    repaid = row(
        None, id_number=spouse.id_number, **{"借款合同编号": "HT-002", "借据号": "JJ-002", "贷款余额": "0"}
    )
    assert (
        import_loans(acting_user=world.officer, file=csv_file([row(household), repaid]), filename="x.csv")
        == 2
    )
    assert history(Loan.objects.get(contract_no="HT-001")) == [("import", "", S.ACTIVE, world.officer.pk, "")]
    assert history(Loan.objects.get(contract_no="HT-002")) == [
        ("import", "", S.SETTLED, world.officer.pk, "")
    ]


def test_a_refused_disbursement_leaves_no_history(world, new_application, drive):
    from core.exceptions import ConflictError

    taken = make_loan(HouseholdFactory(village=world.v1a), world, contract_no="HT-9002")
    app = drive(new_application(), State.APPROVED)
    with pytest.raises(ConflictError):
        applications.application_disburse(
            acting_user=world.officer, application=app, contract_no="HT-9002", receipt_no="JJ-9002"
        )
    assert not LoanStateChange.objects.exclude(loan=taken).exists()


def test_the_admin_shows_the_history_read_only(world, client_as, household):
    loan = make_loan(household, world)
    loan.state_changes.create(transition="import", from_state="", to_state=S.ACTIVE, by=world.officer)
    client = client_as(UserFactory(username="root", is_superuser=True, is_staff=True))
    page = client.get(reverse("admin:loans_loan_change", args=[loan.pk])).content.decode()
    # The inline lists the row (the officer who took the step) and offers no way to change it.
    assert 'id="state_changes-0"' in page and world.officer.name in page
    assert 'name="_save"' not in page and 'id="state_changes-empty"' not in page
    listing = client.get(reverse("admin:loans_loanstatechange_changelist"))
    assert listing.status_code == 200 and loan.contract_no in listing.content.decode()
    assert client.get(reverse("admin:loans_loanstatechange_add")).status_code == 403
