"""`/api/v1/subsidy-batches/` as API.md fixes it: list and create, transitions, lines, scope and
the error shapes."""

import datetime
from decimal import Decimal

import pytest

from accounts.models import Role
from subsidies import services
from subsidies.workflow import State
from tests.factories import UserFactory

D = datetime.date
BASE = "/api/v1/subsidy-batches/"


@pytest.fixture
def q3_batch(world, make_loan, settle, compute_now, after_q3):
    loan = make_loan()
    settle(
        loan,
        D(2025, 6, 20),
        D(2025, 9, 20),
        interest_due="555.83",
        penalty_paid="12.00",
        paid_on=D(2025, 9, 20),
    )
    unpaid = make_loan(village=world.v2a)
    settle(unpaid, D(2025, 6, 20), D(2025, 9, 20), interest_due="555.83", paid_on=None)
    return compute_now()


def test_list_has_the_contract_fields(world, api_as, q3_batch):
    body = api_as(world.finance).get(BASE).json()
    assert body["count"] == 1
    row = body["results"][0]
    assert {"id", "county", "year", "quarter", "state", "total", "line_count", "progress"} <= set(row)
    assert (row["county"], row["year"], row["quarter"], row["state"]) == (
        world.county.pk,
        2025,
        3,
        "computed",
    )
    assert row["total"] == "555.83" and row["line_count"] == 2
    assert row["progress"] == {"done": 2, "total": 2, "percent": 100}


def test_create_and_its_rules(world, api_as, after_q3):
    client = api_as(world.finance)
    created = client.post(BASE, {"year": 2025, "quarter": 3}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["state"] == "draft" and created.json()["county"] == world.county.pk
    # Never computed: nothing done yet, not "100 %".
    assert created.json()["progress"] == {"done": 0, "total": 0, "percent": 0}

    duplicate = client.post(BASE, {"year": 2025, "quarter": 3}, format="json")
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "conflict"

    early = client.post(BASE, {"year": 2025, "quarter": 4}, format="json")
    assert early.status_code == 400
    assert early.json()["code"] == "rule_failed"
    assert early.json()["extra"]["rules"][0]["rule"] == "quarter_not_over"

    bad = client.post(BASE, {"year": 2025, "quarter": 5}, format="json")
    assert bad.status_code == 400 and "quarter" in bad.json()["extra"]["fields"]

    # Only finance creates batches; a county the user does not see is 404.
    assert (
        api_as(world.county_office).post(BASE, {"year": 2025, "quarter": 2}, format="json").status_code == 403
    )
    foreign = client.post(BASE, {"county": world.other_county.pk, "year": 2025, "quarter": 2}, format="json")
    assert foreign.status_code == 404


def test_out_of_scope_is_404(world, api_as, q3_batch):
    stranger = UserFactory(username="finz", unit=world.other_county, roles=[Role.FINANCE])
    client = api_as(stranger)
    assert client.get(BASE).json()["count"] == 0
    assert client.get(f"{BASE}{q3_batch.pk}/").status_code == 404
    assert client.get(f"{BASE}{q3_batch.pk}/lines/").status_code == 404
    assert client.post(f"{BASE}{q3_batch.pk}/transitions/review/", {}, format="json").status_code == 404


def test_transitions_with_four_eyes_and_paid_is_final(world, api_as, finance2, q3_batch):
    mine = api_as(world.finance)
    names = [t["name"] for t in mine.get(f"{BASE}{q3_batch.pk}/transitions/").json()]
    assert names == ["compute", "review", "cancel"]
    assert (
        mine.post(f"{BASE}{q3_batch.pk}/transitions/review/", {"comment": "ok"}, format="json").json()[
            "state"
        ]
        == "reviewed"
    )

    refused = mine.post(f"{BASE}{q3_batch.pk}/transitions/approve/", {}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "four_eyes"
    assert "approve" not in [t["name"] for t in mine.get(f"{BASE}{q3_batch.pk}/transitions/").json()]

    other = api_as(finance2)
    assert (
        other.post(f"{BASE}{q3_batch.pk}/transitions/approve/", {}, format="json").json()["state"]
        == "approved"
    )
    no_date = other.post(f"{BASE}{q3_batch.pk}/transitions/pay/", {}, format="json")
    assert no_date.status_code == 400 and "paid_on" in no_date.json()["extra"]["fields"]
    paid = other.post(
        f"{BASE}{q3_batch.pk}/transitions/pay/", {"paid_on": "2025-10-10", "reference": "CZ-9"}, format="json"
    )
    assert paid.status_code == 200 and paid.json()["state"] == "paid"

    again = mine.post(f"{BASE}{q3_batch.pk}/transitions/compute/", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "transition_not_allowed"
    cancel = mine.post(f"{BASE}{q3_batch.pk}/transitions/cancel/", {"reason": "x"}, format="json")
    assert cancel.status_code == 409
    assert mine.post(f"{BASE}{q3_batch.pk}/transitions/nonsense/", {}, format="json").status_code == 404
    # Non-finance roles may not take steps.
    assert api_as(world.county_office).post(
        f"{BASE}{q3_batch.pk}/transitions/cancel/", {"reason": "x"}, format="json"
    ).status_code in (403, 409)


def test_lines_have_the_contract_fields_and_reasons(world, api_as, q3_batch):
    body = api_as(world.finance).get(f"{BASE}{q3_batch.pk}/lines/").json()
    assert body["count"] == 2
    by_reason = {row["excluded_reason"]: row for row in body["results"]}
    paid = by_reason[""]
    assert {
        "loan",
        "household",
        "period_start",
        "period_end",
        "days",
        "principal",
        "rate_used",
        "interest_paid",
        "subsidy",
        "excluded_reason",
    } <= set(paid)
    assert (paid["period_start"], paid["period_end"], paid["days"]) == ("2025-06-20", "2025-09-20", 92)
    assert (paid["principal"], paid["rate_used"], paid["interest_paid"], paid["subsidy"]) == (
        "50000.00",
        "4.3500",
        "555.83",
        "555.83",
    )
    assert paid["penalty_paid"] == "12.00"
    assert by_reason["unpaid"]["subsidy"] == "0.00"

    only_unpaid = api_as(world.finance).get(f"{BASE}{q3_batch.pk}/lines/", {"reason": "unpaid"}).json()
    assert [r["excluded_reason"] for r in only_unpaid["results"]] == ["unpaid"]
    assert api_as(world.finance).get(f"{BASE}{q3_batch.pk}/lines/", {"reason": "bogus"}).status_code == 400


def test_compute_from_the_api_is_queued_and_reports_progress(world, api_as, make_loan, after_q3, settings):
    make_loan()
    settings.SUBSIDY_QUEUE = "nobody-listens-here"
    batch = services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    body = api_as(world.finance).post(f"{BASE}{batch.pk}/transitions/compute/", {}, format="json").json()
    assert body["state"] == State.COMPUTING
    assert body["progress"] == {"done": 0, "total": 1, "percent": 0}
    assert Decimal(body["total"]) == 0
