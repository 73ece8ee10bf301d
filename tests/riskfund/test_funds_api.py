"""risk-funds/ (API.md): the funds in the user's area with their figures, and a fund's immutable
entries, to which finance of the county adds deposits, interest and withdrawals."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from riskfund.models import LedgerTransaction
from riskfund.services import ledger
from tests.factories import HouseholdFactory, LoanFactory, UserFactory

pytestmark = pytest.mark.django_db
Kind = LedgerTransaction.Kind
LIST = "/api/v1/risk-funds/"


def entries(pk):
    return f"/api/v1/risk-funds/{pk}/entries/"


@pytest.mark.parametrize("who", ["finance", "county_office", "committee", "admin", "officer", "approver"])
def test_the_list_and_one_fund(world, api_as, who):
    LoanFactory(household=HouseholdFactory(village=world.v1a), branch=world.br1, state="active")
    api = api_as(getattr(world, who))
    r = api.get(LIST)
    assert r.status_code == 200
    (row,) = r.json()["results"]
    assert row["id"] == world.fund.pk
    assert (row["county"], row["bank"]) == (world.county.pk, world.bank.pk)
    assert Decimal(row["balance"]) == Decimal("10000000.00")
    assert Decimal(row["multiple"]) == Decimal("10.00")
    assert Decimal(row["outstanding"]) == Decimal("30000.00")
    # 100,000,000.00 − 30,000.00
    assert Decimal(row["headroom"]) == Decimal("99970000.00")
    r = api.get(f"{LIST}{world.fund.pk}/")
    assert r.status_code == 200 and r.json() == row


def test_others_see_nothing(world, api_as):
    stranger = UserFactory(unit=world.other_county, roles=[Role.FINANCE])
    for user in (stranger, world.cadre):
        api = api_as(user)
        assert api.get(LIST).json()["results"] == []
        for path in (f"{LIST}{world.fund.pk}/", entries(world.fund.pk)):
            r = api.get(path)
            assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = api_as(stranger).post(entries(world.fund.pk), {"kind": "deposit", "amount": "1.00", "memo": "x"})
    assert r.status_code == 404


def test_entries_list(world, api_as):
    ledger.movement_record(
        acting_user=world.finance,
        fund=world.fund,
        kind=Kind.INTEREST,
        amount="12.34",
        memo="利息",
        reference="R1",
    )
    r = api_as(world.officer).get(entries(world.fund.pk))
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 4
    last = body["results"][-2:]
    txn = LedgerTransaction.objects.get(kind=Kind.INTEREST)
    assert [
        (e["transaction"], e["kind"], e["booked_on"], e["memo"], e["account"], e["amount"]) for e in last
    ] == [
        (txn.pk, "interest", "2026-06-17", "利息", "fund", "12.34"),
        (txn.pk, "interest", "2026-06-17", "利息", "interest", "-12.34"),
    ]
    r = api_as(world.officer).get(entries(world.fund.pk), {"page_size": 1, "page": 2})
    assert r.status_code == 200 and len(r.json()["results"]) == 1
    assert api_as(world.officer).get(entries(world.fund.pk), {"page": "x"}).status_code == 400


def test_finance_posts_a_deposit(world, api_as):
    r = api_as(world.finance).post(
        entries(world.fund.pk),
        {
            "kind": "deposit",
            "amount": "2500.50",
            "booked_on": "2026-06-10",
            "memo": "补充",
            "reference": "BK-1",
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    body = r.json()
    assert (body["kind"], body["booked_on"], body["reference"]) == ("deposit", "2026-06-10", "BK-1")
    assert body["entries"] == [
        {"account": "fund", "amount": "2500.50"},
        {"account": "county", "amount": "-2500.50"},
    ]
    assert ledger.balance(world.fund) == Decimal("10002500.50")


@pytest.mark.parametrize("who", ["officer", "approver", "committee", "county_office"])
def test_others_in_scope_cannot_post(world, api_as, who):
    r = api_as(getattr(world, who)).post(
        entries(world.fund.pk), {"kind": "deposit", "amount": "1.00", "memo": "x"}, format="json"
    )
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    assert ledger.balance(world.fund) == Decimal("10000000.00")


def test_a_withdrawal_beyond_the_balance(world, api_as):
    r = api_as(world.finance).post(
        entries(world.fund.pk), {"kind": "withdrawal", "amount": "10000000.01", "memo": "全部"}, format="json"
    )
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "rule_failed"
    assert body["extra"]["balance"] == "10000000.00"
    assert body["extra"]["rules"][0]["rule"] == "fund_balance"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "compensation", "amount": "1.00", "memo": "x"}, "kind"),
        ({"kind": "reversal", "amount": "1.00", "memo": "x"}, "kind"),
        ({"kind": "deposit", "amount": "abc", "memo": "x"}, "amount"),
        ({"kind": "deposit", "amount": "1.00"}, "memo"),
    ],
)
def test_bad_input(world, api_as, data, field):
    r = api_as(world.finance).post(entries(world.fund.pk), data, format="json")
    assert r.status_code == 400
    assert r.json()["code"] == "invalid"
    assert field in r.json()["extra"]["fields"]


def test_query_counts_do_not_grow_with_entries(world, api_as, django_assert_max_num_queries):
    api = api_as(world.finance)

    def add(n):
        for i in range(n):
            ledger.movement_record(
                acting_user=world.finance, fund=world.fund, kind=Kind.DEPOSIT, amount="1.00", memo=f"{i}"
            )

    add(2)
    with CaptureQueriesContext(connection) as list_few:
        assert api.get(LIST).status_code == 200
    with CaptureQueriesContext(connection) as entries_few:
        assert api.get(entries(world.fund.pk)).status_code == 200
    add(30)
    with django_assert_max_num_queries(len(list_few.captured_queries)):
        assert api.get(LIST).status_code == 200
    with django_assert_max_num_queries(len(entries_few.captured_queries)):
        r = api.get(entries(world.fund.pk))
    assert len(r.json()["results"]) == 50
