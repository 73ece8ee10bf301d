"""`/api/v1/compensation-claims/` as API.md fixes it: list (scoped, by state), file, one claim,
its transitions, and the steps with their refusals."""

import datetime
from decimal import Decimal

import pytest

from loans.models import Loan
from tests.factories import BranchFactory, HouseholdFactory

from .claim_helpers import ROLES, approved, file, make_loan, second_user

pytestmark = pytest.mark.django_db

BASE = "/api/v1/compensation-claims/"


def test_file_and_shape(world, api_as):
    loan = make_loan(world, outstanding=Decimal("1000.01"))
    answer = api_as(world.officer).post(
        BASE, {"loan": loan.pk, "trigger": "default", "statement": "多次催收未果"}, format="json"
    )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert {
        k: body[k] for k in ("loan", "trigger", "loss", "insurance_paid", "fund_share", "bank_share", "state")
    } == {
        "loan": loan.pk,
        "trigger": "default",
        "loss": "1000.01",
        "insurance_paid": "0.00",
        "fund_share": "800.00",
        "bank_share": "200.01",
        "state": "filed",
    }
    assert body["eligible_on"] == "2025-04-01"  # matured 2025-01-01, + 90 days
    assert [h["transition"] for h in body["history"]] == ["file"]


@pytest.mark.today("2026-06-16")
def test_filing_too_early_names_the_day(world, api_as):
    loan = make_loan(world, maturity_on=datetime.date(2026, 3, 19))
    answer = api_as(world.officer).post(
        BASE, {"loan": loan.pk, "trigger": "default", "statement": "催收"}, format="json"
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "rule_failed"
    assert body["extra"]["rules"][0]["rule"] == "claim_trigger"
    assert body["extra"]["eligible_on"] == "2026-06-17"


def test_filing_refusals(world, api_as):
    loan = make_loan(world)
    assert (
        api_as(world.county_office)
        .post(BASE, {"loan": loan.pk, "trigger": "default", "statement": "x"}, format="json")
        .status_code
        == 403
    )
    answer = api_as(world.officer).post(
        BASE, {"loan": loan.pk, "trigger": "default", "statement": " "}, format="json"
    )
    assert answer.status_code == 400 and answer.json()["code"] == "invalid"
    assert (
        api_as(world.officer)
        .post(BASE, {"loan": loan.pk, "trigger": "nope", "statement": "x"}, format="json")
        .status_code
        == 400
    )
    # A loan in another county's branch is out of the officer's area.
    other = make_loan(world, household=HouseholdFactory(village=world.vz))
    assert (
        api_as(world.officer)
        .post(BASE, {"loan": other.pk, "trigger": "default", "statement": "x"}, format="json")
        .status_code
        == 404
    )


def test_list_scope_and_filters(world, api_as):
    filed = file(world, make_loan(world))
    done = approved(world, make_loan(world))
    body = api_as(world.committee).get(BASE).json()
    assert {row["id"] for row in body["results"]} == {filed.pk, done.pk}
    assert [r["id"] for r in api_as(world.committee).get(BASE, {"state": "approved"}).json()["results"]] == [
        done.pk
    ]
    assert [r["id"] for r in api_as(world.finance).get(BASE, {"queue": "pay"}).json()["results"]] == [done.pk]
    assert api_as(world.officer).get(BASE).json()["count"] == 2
    assert api_as(world.finance).get(BASE, {"state": "bogus"}).status_code == 400
    # Nobody outside county A or bank B sees them.
    outsiders = [
        second_user(world, ROLES.FUND_COMMITTEE, unit=world.other_county),
        world.cadre,
        second_user(world, ROLES.LOAN_OFFICER, unit=BranchFactory()),
    ]
    for user in outsiders:
        client = api_as(user)
        assert client.get(BASE).json()["count"] == 0
        assert client.get(f"{BASE}{filed.pk}/").status_code == 404
        assert client.post(f"{BASE}{filed.pk}/transitions/review/", {}, format="json").status_code == 404


def test_steps_over_the_api(world, api_as):
    claim = file(world, make_loan(world, outstanding=Decimal("10000.00"), state="overdue"))
    url = f"{BASE}{claim.pk}/transitions/"
    assert [t["name"] for t in api_as(world.county_office).get(url).json()] == ["review", "reject"]
    assert api_as(world.officer).get(url).json()[0]["name"] == "withdraw"
    assert api_as(world.county_office).post(f"{url}nope/", {}, format="json").status_code == 404
    assert api_as(world.finance).post(f"{url}review/", {}, format="json").status_code == 403
    assert api_as(world.finance).post(f"{url}pay/", {}, format="json").status_code == 409
    answer = api_as(world.county_office).post(f"{url}review/", {"comment": "材料齐全"}, format="json")
    assert answer.status_code == 200 and answer.json()["state"] == "reviewed"
    answer = api_as(world.committee).post(f"{url}approve/", {"committee_members": ""}, format="json")
    assert answer.status_code == 400
    answer = api_as(world.committee).post(
        f"{url}approve/",
        {"committee_members": "张三、李四、王五", "decision_no": "风补〔2026〕3号"},
        format="json",
    )
    assert answer.json()["state"] == "approved"
    assert answer.json()["committee_members"] == "张三、李四、王五"
    answer = api_as(world.finance).post(f"{url}pay/", {"paid_on": "2026-06-17"}, format="json")
    assert answer.status_code == 200, answer.json()
    assert (answer.json()["state"], answer.json()["paid_on"]) == ("paid", "2026-06-17")
    assert Loan.objects.get(pk=claim.loan_id).state == "compensated"


def test_four_eyes_over_the_api(world, api_as):
    both = second_user(world, ROLES.FUND_COMMITTEE, ROLES.FINANCE)
    claim = file(world, make_loan(world))
    url = f"{BASE}{claim.pk}/transitions/"
    api_as(world.county_office).post(f"{url}review/", {}, format="json")
    api_as(both).post(f"{url}approve/", {"committee_members": "张三、李四"}, format="json")
    answer = api_as(both).post(f"{url}pay/", {}, format="json")
    assert answer.status_code == 403
    assert answer.json()["code"] == "four_eyes"


def test_the_schema_describes_the_claim_routes(world, client_as):
    body = client_as(world.admin).get("/api/schema/").content.decode()
    for path in (
        "/api/v1/compensation-claims/",
        "/api/v1/compensation-claims/{id}/",
        "/api/v1/compensation-claims/{id}/transitions/",
        "/api/v1/compensation-claims/{id}/transitions/{name}/",
    ):
        assert path in body


def test_list_queries_do_not_grow(world, api_as, django_assert_max_num_queries):
    client = api_as(world.finance)
    file(world, make_loan(world))
    client.get(BASE)
    for _ in range(4):
        file(world, make_loan(world))
    with django_assert_max_num_queries(8):
        assert client.get(BASE).json()["count"] == 5
