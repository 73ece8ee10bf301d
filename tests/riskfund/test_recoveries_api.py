"""The `recoveries/` API: the shape, the filters, recording (the bank) and the return (finance),
errors in the API's shape, scoping (404)."""

import datetime
from decimal import Decimal

import pytest

from accounts.models import Role
from riskfund.models import LedgerTransaction, Recovery
from riskfund.services import ledger
from riskfund.services.recoveries import recovery_record, recovery_return
from tests.factories import CompensationClaimFactory, HouseholdFactory, LoanFactory, UserFactory

D = datetime.date
URL = "/api/v1/recoveries/"


@pytest.fixture
def claim(world):
    loan = LoanFactory(household=HouseholdFactory(village=world.v1a), branch=world.br1)
    return CompensationClaimFactory(
        fund=world.fund, loan=loan, profile=world.profile, filed_by=world.officer, paid_by=world.finance
    )


def test_list_shape_and_filters(api_as, world, claim):
    a = recovery_record(
        acting_user=world.officer, claim=claim, amount=Decimal("1000.01"), received_on=D(2026, 6, 1)
    )
    b = recovery_record(
        acting_user=world.officer, claim=claim, amount=Decimal("50.00"), received_on=D(2026, 6, 15)
    )
    recovery_return(acting_user=world.finance, recovery=b, returned_on=D(2026, 6, 16))
    r = api_as(world.county_office).get(URL)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["count"] == 2
    assert body["results"][0] == {
        "id": a.pk,
        "claim": claim.pk,
        "amount": "1000.01",
        "received_on": "2026-06-01",
        "fund_share": "800.00",
        "bank_share": "200.01",
        "due_on": "2026-06-08",
        "returned_on": None,
        "days_late": 9,
        "note": "",
        "recorded_by": world.officer.pk,
        "recorded_at": body["results"][0]["recorded_at"],
        "returned_by": None,
    }
    second = body["results"][1]
    assert (second["due_on"], second["returned_on"], second["days_late"]) == ("2026-06-23", "2026-06-16", 0)
    assert [x["id"] for x in api_as(world.approver).get(URL + "?state=late").json()["results"]] == [a.pk]
    assert [x["id"] for x in api_as(world.finance).get(URL + "?state=returned").json()["results"]] == [b.pk]
    assert api_as(world.finance).get(f"{URL}?claim={claim.pk}").json()["count"] == 2
    assert api_as(world.finance).get(f"{URL}?fund={world.fund.pk + 1000}").json()["count"] == 0
    bad = api_as(world.finance).get(URL + "?state=soon")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    stranger = UserFactory(unit=world.other_county, roles=[Role.FINANCE])
    assert api_as(stranger).get(URL).json()["count"] == 0


def test_record(api_as, world, claim):
    r = api_as(world.officer).post(
        URL,
        {"claim": claim.pk, "amount": "1000.01", "received_on": "2026-06-15", "note": "担保人代偿"},
        format="json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert (body["fund_share"], body["bank_share"], body["due_on"], body["days_late"]) == (
        "800.00",
        "200.01",
        "2026-06-23",
        0,
    )
    assert Recovery.objects.get().note == "担保人代偿"


def test_record_errors(api_as, world, claim):
    officer = api_as(world.officer)
    r = officer.post(
        URL, {"claim": claim.pk, "amount": "31234.58", "received_on": "2026-06-15"}, format="json"
    )
    assert r.status_code == 400 and r.json()["code"] == "rule_failed"
    assert r.json()["extra"]["rules"][0]["rule"] == "recovery_within_loss"
    r = api_as(world.finance).post(
        URL, {"claim": claim.pk, "amount": "1.00", "received_on": "2026-06-15"}, format="json"
    )
    assert r.status_code == 403
    stranger = UserFactory(unit=world.other_county, roles=[Role.FINANCE])
    r = api_as(stranger).post(
        URL, {"claim": claim.pk, "amount": "1.00", "received_on": "2026-06-15"}, format="json"
    )
    assert r.status_code == 404
    loan = LoanFactory(household=HouseholdFactory(village=world.v1a), branch=world.br1)
    filed = CompensationClaimFactory(
        fund=world.fund, loan=loan, profile=world.profile, filed_by=world.officer, state="filed"
    )
    r = officer.post(URL, {"claim": filed.pk, "amount": "1.00", "received_on": "2026-06-15"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "claim_not_paid"
    assert not Recovery.objects.exists()


@pytest.mark.today("2026-12-30")
def test_record_in_a_missing_year(api_as, world, claim):
    r = api_as(world.officer).post(
        URL, {"claim": claim.pk, "amount": "1.00", "received_on": "2026-12-29"}, format="json"
    )
    assert r.status_code == 400 and r.json()["code"] == "calendar_missing"
    assert r.json()["extra"]["year"] == 2027
    assert not Recovery.objects.exists()


def test_return(api_as, world, claim):
    rec = recovery_record(
        acting_user=world.officer, claim=claim, amount=Decimal("1000.01"), received_on=D(2026, 6, 1)
    )
    url = f"{URL}{rec.pk}/return/"
    assert api_as(world.officer).post(url, {"returned_on": "2026-06-10"}, format="json").status_code == 403
    stranger = UserFactory(unit=world.other_county, roles=[Role.FINANCE])
    assert api_as(stranger).post(url, {"returned_on": "2026-06-10"}, format="json").status_code == 404
    before = ledger.balance(world.fund)
    r = api_as(world.finance).post(url, {"returned_on": "2026-06-10"}, format="json")
    assert r.status_code == 200, r.content
    assert (r.json()["returned_on"], r.json()["days_late"]) == ("2026-06-10", 2)
    assert ledger.balance(world.fund) == before + Decimal("800.00")
    again = api_as(world.finance).post(url, {"returned_on": "2026-06-10"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_returned"
    assert LedgerTransaction.objects.filter(recovery=rec).count() == 1
