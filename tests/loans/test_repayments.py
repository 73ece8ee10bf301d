"""Principal repayments and settlement (结清): 0 < amount ≤ outstanding, dated between the
disbursement and today, the last one settles the loan; the row lock keeps two at once honest."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from core.exceptions import ApplicationError, ConflictError, NotPermitted
from core.models import AuditEvent
from loans.models import Loan, Repayment
from loans.services import servicing
from loans.workflow import State
from tests.factories import HouseholdFactory
from tests.loans.test_settlements import make_loan

D = datetime.date
JUNE = datetime.date(2024, 6, 1)


@pytest.fixture
def loan(world, household):
    return make_loan(household, world, amount=Decimal("10000.00"))


def repay(world, loan, amount, paid_on=JUNE, **kw):
    return servicing.repayment_record(
        acting_user=kw.pop("user", world.officer), loan=loan, principal=Decimal(amount), paid_on=paid_on, **kw
    )


def test_partial_then_full_settles(world, loan):
    first = repay(world, loan, "4000.00", note="卖牛还款")
    loan.refresh_from_db()
    assert (loan.outstanding, loan.state, first.outstanding_after) == (
        Decimal("6000.00"),
        "active",
        Decimal("6000.00"),
    )
    assert first.reason == "卖牛还款"
    repay(world, loan, "6000.00", paid_on=D(2024, 7, 1))
    loan.refresh_from_db()
    assert (loan.outstanding, loan.state, loan.settled_on) == (
        Decimal("0.00"),
        Loan.State.SETTLED,
        D(2024, 7, 1),
    )
    assert AuditEvent.objects.filter(action="loan.settle", object_id=str(loan.pk)).exists()
    assert AuditEvent.objects.filter(action="loan.repayment", object_id=str(loan.pk)).count() == 2
    with pytest.raises(ConflictError):
        repay(world, loan, "1.00")


@pytest.mark.parametrize("amount", ["0", "-5", "10000.01", "1.005"])
def test_amount_limits(world, loan, amount):
    with pytest.raises(ApplicationError) as e:
        repay(world, loan, amount)
    assert e.value.field == "principal"
    assert not Repayment.objects.exists()


def test_date_limits(world, loan):
    with pytest.raises(ApplicationError) as e:
        repay(world, loan, "1", paid_on=timezone.localdate() + datetime.timedelta(days=1))
    assert e.value.field == "paid_on"
    with pytest.raises(ApplicationError) as e:
        repay(world, loan, "1", paid_on=D(2024, 1, 9))
    assert (e.value.code, e.value.field) == ("invalid", "paid_on")
    assert repay(world, loan, "1", paid_on=D(2024, 1, 10)).principal == Decimal("1")
    assert repay(world, loan, "1", paid_on=timezone.localdate())


def test_roles_and_scope(world, loan):
    with pytest.raises(NotPermitted):
        repay(world, loan, "1", user=world.cadre)
    elsewhere = make_loan(HouseholdFactory(village=world.v2a), world, branch=world.br2)
    with pytest.raises(NotPermitted):
        repay(world, elsewhere, "1")


def test_a_disbursed_loan_repays(world, new_application, drive):
    app = drive(new_application(), State.DISBURSED)
    repayment = repay(world, app.loan, "30000.00", paid_on=timezone.localdate())
    assert repayment.outstanding_after == 0
    assert Loan.objects.get(pk=app.loan.pk).state == Loan.State.SETTLED


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_repayments_cannot_overdraw(world, household):
    loan = make_loan(household, world, amount=Decimal("10000.00"))
    results = []
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            repay(world, loan, "7000.00")
            results.append("ok")
        except ApplicationError as e:
            results.append(e.field)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok", "principal"]
    loan.refresh_from_db()
    assert loan.outstanding == Decimal("3000.00")


def test_api(world, loan, api_as):
    url = f"/api/v1/loans/{loan.pk}/repayments/"
    answer = api_as(world.officer).post(
        url, {"principal": "2500.00", "paid_on": "2024-05-01", "note": "部分还款"}
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["outstanding_after"] == "7500.00"
    # A list, paginated like every list of the API (API.md; #10: it answered a bare array).
    assert api_as(world.officer).get(url).json()["results"][0]["note"] == "部分还款"
    too_much = api_as(world.officer).post(url, {"principal": "9999999", "paid_on": "2024-05-01"})
    assert too_much.status_code == 400 and too_much.json()["extra"]["fields"]["principal"]
    assert api_as(world.cadre).post(url, {"principal": "1", "paid_on": "2024-05-01"}).status_code == 403
    elsewhere = make_loan(HouseholdFactory(village=world.v2a), world, branch=world.br2)
    answer = api_as(world.officer).post(
        f"/api/v1/loans/{elsewhere.pk}/repayments/", {"principal": "1", "paid_on": "2024-05-01"}
    )
    assert answer.status_code == 404


def test_page(world, loan, client_as):
    client = client_as(world.officer)
    url = reverse("loans:repayment_create", args=[loan.pk])
    assert client.get(url).status_code == 200
    refused = client.post(url, {"principal": "20000", "paid_on": "2024-05-01"})
    assert refused.status_code == 400
    assert refused.context["form"].errors["principal"]
    assert client.post(url, {"principal": "10000", "paid_on": "2024-05-01"}).status_code == 302
    assert Loan.objects.get(pk=loan.pk).state == Loan.State.SETTLED
    assert client_as(world.cadre).get(url).status_code == 403
