"""The borrower's account on a loan (DOMAIN §3 account at the lending bank): the subsidy is paid
to it, so a loan officer records or corrects it, with a reason, and the audit keeps both."""

import datetime

import pytest
from django.urls import reverse

from core.exceptions import ApplicationError, NotPermitted
from core.models import AuditEvent
from loans.services import borrowers
from tests.factories import HouseholdFactory, LoanFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def loan(world):
    return LoanFactory(
        household=HouseholdFactory(village=world.v1a, head__age=40),
        branch=world.br1,
        contract_no="ACC-0001",
        term_months=24,
        maturity_on=datetime.date(2027, 3, 20),
    )


def test_officer_records_the_account_with_a_reason(world, loan):
    borrowers.loan_account_set(
        acting_user=world.officer, loan=loan, account_no=" 6230 5201 0000 0000 001 ", reason="借款人银行卡"
    )
    loan.refresh_from_db()
    assert loan.account_no == "6230 5201 0000 0000 001"
    event = AuditEvent.objects.get(action="loan.account")
    assert (event.actor, event.reason, event.data) == (
        world.officer,
        "借款人银行卡",
        {"old": "", "new": "6230 5201 0000 0000 001"},
    )


@pytest.mark.parametrize(
    ("account_no", "reason", "field"),
    [
        ("", "银行卡", "account_no"),
        ("abc123", "银行卡", "account_no"),
        ("6230520100000000001", " ", "reason"),
    ],
)
def test_bad_input_is_refused_and_nothing_changes(world, loan, account_no, reason, field):
    with pytest.raises(ApplicationError) as refused:
        borrowers.loan_account_set(acting_user=world.officer, loan=loan, account_no=account_no, reason=reason)
    assert (refused.value.code, refused.value.field) == ("invalid", field)
    loan.refresh_from_db()
    assert loan.account_no == ""
    assert not AuditEvent.objects.filter(action="loan.account").exists()


def test_only_servicers_of_the_area(world, loan):
    with pytest.raises(NotPermitted):
        borrowers.loan_account_set(acting_user=world.cadre, loan=loan, account_no="6230", reason="x")
    other = UserFactory(username="officer-br2", unit=world.br2, roles=["loan_officer"])
    with pytest.raises(NotPermitted):
        borrowers.loan_account_set(acting_user=other, loan=loan, account_no="6230", reason="x")


def test_page(world, loan, client_as):
    client = client_as(world.officer)
    address = reverse("loans:change_account", args=[loan.pk])
    assert "6230" not in client.get(reverse("loans:book_detail", args=[loan.pk])).content.decode()
    response = client.post(address, {"account_no": "abc", "reason": "银行卡"})
    assert response.status_code == 400
    response = client.post(address, {"account_no": "6230520100000000001", "reason": "借款人银行卡"})
    assert response.status_code == 302
    page = client.get(reverse("loans:book_detail", args=[loan.pk])).content.decode()
    assert "6230520100000000001" in page
    assert client_as(world.cadre).get(address).status_code in (403, 404)


@pytest.mark.parametrize("text", ["=1+1", "无", "６２３０５２０１", "+6230", "6230=5201"])
def test_only_digits_make_an_account(world, loan, text):
    """Full-width digits are digits (stored as ASCII); a formula, a word or a sign is refused."""
    if text == "６２３０５２０１":
        borrowers.loan_account_set(acting_user=world.officer, loan=loan, account_no=text, reason="银行卡")
        loan.refresh_from_db()
        assert loan.account_no == "62305201"
        return
    with pytest.raises(ApplicationError) as refused:
        borrowers.loan_account_set(acting_user=world.officer, loan=loan, account_no=text, reason="银行卡")
    assert (refused.value.code, refused.value.field) == ("invalid", "account_no")
