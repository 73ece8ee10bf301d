"""The recoveries pages: the list with its tabs and days late, recording a recovery (the bank),
recording the return (finance), the claim page's section, scoping (404) and roles (403)."""

import datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import Role
from riskfund.models import LedgerTransaction, Recovery
from riskfund.services import ledger
from riskfund.services.recoveries import recovery_record, recovery_return
from tests.factories import (
    CompensationClaimFactory,
    HouseholdFactory,
    LoanFactory,
    RiskFundFactory,
    UserFactory,
)

D = datetime.date


@pytest.fixture
def claim(world):
    loan = LoanFactory(household=HouseholdFactory(village=world.v1a), branch=world.br1, contract_no="HT-0001")
    return CompensationClaimFactory(
        fund=world.fund, loan=loan, profile=world.profile, filed_by=world.officer, paid_by=world.finance
    )


@pytest.fixture
def three(world, claim):
    """Today 17 June 2026. A due 8 June still out (9 days late), B returned 10 June (2 late), C
    received 15 June, due 23 June."""

    def rec(amount, day):
        return recovery_record(
            acting_user=world.officer, claim=claim, amount=Decimal(amount), received_on=day
        )

    a, b, c = rec("1000.01", D(2026, 6, 1)), rec("2000.00", D(2026, 6, 1)), rec("3000.00", D(2026, 6, 15))
    recovery_return(acting_user=world.finance, recovery=b, returned_on=D(2026, 6, 10))
    return a, b, c


def test_list_tabs_and_days_late(client_as, world, three, django_assert_max_num_queries):
    a, b, c = three
    client = client_as(world.finance)
    with django_assert_max_num_queries(10):
        r = client.get(reverse("riskfund:recovery_list"))
    assert r.status_code == 200
    rows = {x.pk: x.days_late for x in r.context["recoveries"]}
    assert rows == {a.pk: 9, b.pk: 2, c.pk: 0}
    assert [(key, n) for key, _label, n in r.context["tabs"]] == [("due", 2), ("late", 2), ("returned", 1)]
    html = r.content.decode()
    assert "1,000.01" in html and "800.00" in html and "HT-0001" in html
    assert reverse("riskfund:recovery_return", args=[a.pk]) in html
    assert reverse("riskfund:recovery_return", args=[b.pk]) not in html
    late = client.get(reverse("riskfund:recovery_list") + "?tab=late")
    assert [x.pk for x in late.context["recoveries"]] == [a.pk, b.pk]
    # A bad tab is the whole list.
    assert len(client.get(reverse("riskfund:recovery_list") + "?tab=nope").context["recoveries"]) == 3


def test_list_query_count_does_not_grow(client_as, world, claim, django_assert_max_num_queries):
    for day in range(1, 5):
        recovery_record(
            acting_user=world.officer, claim=claim, amount=Decimal("10.00"), received_on=D(2026, 6, day)
        )
    client = client_as(world.approver)
    with django_assert_max_num_queries(10):
        r = client.get(reverse("riskfund:recovery_list"))
    assert len(r.context["recoveries"]) == 4
    assert "Record the return" not in r.content.decode() and "记录退回" not in r.content.decode()


def test_list_scoped(client_as, world, three):
    stranger = UserFactory(unit=world.other_county, roles=[Role.FINANCE])
    r = client_as(stranger).get(reverse("riskfund:recovery_list"))
    assert r.status_code == 200 and r.context["recoveries"] == []


def test_record_a_recovery(client_as, world, claim):
    client = client_as(world.officer)
    url = reverse("riskfund:recovery_create", args=[claim.pk])
    page = client.get(url)
    # The date input is given an ISO date (a browser leaves "2026/06/17" blank).
    assert page.status_code == 200 and 'value="2026-06-17"' in page.content.decode()
    r = client.post(url, {"amount": "1000.01", "received_on": "2026-06-15", "note": "处置抵押物"})
    assert r.status_code == 302
    rec = Recovery.objects.get(claim=claim)
    assert (rec.fund_share, rec.bank_share, rec.due_on) == (
        Decimal("800.00"),
        Decimal("200.01"),
        D(2026, 6, 23),
    )


def test_record_refusals_on_the_form(client_as, world, claim):
    client = client_as(world.officer)
    url = reverse("riskfund:recovery_create", args=[claim.pk])
    r = client.post(url, {"amount": "40000.00", "received_on": "2026-06-15"})
    assert r.status_code == 400
    assert r.context["form"].errors["amount"]
    r = client.post(url, {"amount": "10.00", "received_on": "2026-06-18"})
    assert r.status_code == 400 and r.context["form"].errors["received_on"]
    assert not Recovery.objects.exists()


@pytest.mark.today("2026-12-30")
def test_record_in_a_missing_year_says_so(client_as, world, claim):
    r = client_as(world.officer).post(
        reverse("riskfund:recovery_create", args=[claim.pk]), {"amount": "10.00", "received_on": "2026-12-29"}
    )
    assert r.status_code == 400
    assert "2027" in r.content.decode()
    assert not Recovery.objects.exists()


def test_record_roles_and_scope(client_as, world, claim):
    url = reverse("riskfund:recovery_create", args=[claim.pk])
    # In the area but not the bank's loan officer: 403; outside the area: 404.
    assert client_as(world.finance).get(url).status_code == 403
    assert (
        client_as(world.approver).post(url, {"amount": "1.00", "received_on": "2026-06-15"}).status_code
        == 403
    )
    stranger = UserFactory(unit=world.other_county, roles=[Role.FINANCE])
    assert client_as(stranger).get(url).status_code == 404
    assert client_as(world.cadre).get(url).status_code == 404
    # A claim of another county's fund is not there for this bank's officer either.
    other_fund = RiskFundFactory(county=world.other_county)
    loan = LoanFactory(household=HouseholdFactory(village=world.vz), branch=world.br1)
    foreign = CompensationClaimFactory(
        fund=other_fund, loan=loan, profile=world.other_profile, filed_by=world.officer
    )
    assert (
        client_as(world.officer).get(reverse("riskfund:recovery_create", args=[foreign.pk])).status_code
        == 404
    )


def test_record_the_return(client_as, world, three):
    a, _b, _c = three
    client = client_as(world.finance)
    url = reverse("riskfund:recovery_return", args=[a.pk])
    page = client.get(url)
    assert page.status_code == 200 and page.context["recovery"].days_late == 9
    before = ledger.balance(world.fund)
    r = client.post(url, {"returned_on": "2026-06-17"})
    assert r.status_code == 302
    assert ledger.balance(world.fund) == before + Decimal("800.00")
    again = client.post(url, {"returned_on": "2026-06-17"})
    assert again.status_code == 409
    assert LedgerTransaction.objects.filter(recovery=a).count() == 1


def test_return_roles_and_scope(client_as, world, three):
    a, _b, _c = three
    url = reverse("riskfund:recovery_return", args=[a.pk])
    assert client_as(world.officer).get(url).status_code == 403
    assert client_as(world.county_office).post(url, {"returned_on": "2026-06-17"}).status_code == 403
    stranger = UserFactory(unit=world.other_county, roles=[Role.FINANCE])
    assert client_as(stranger).post(url, {"returned_on": "2026-06-17"}).status_code == 404
    assert not LedgerTransaction.objects.filter(recovery=a).exists()


def test_claim_page_section(world, three):
    claim = three[0].claim
    template = Template("{% load recovery_tags %}{% recovery_section claim %}")
    request = RequestFactory().get("/")
    request.user = world.officer
    html = template.render(Context({"claim": claim, "request": request}))
    assert "1,000.01" in html and 'name="amount"' in html
    assert reverse("riskfund:recovery_create", args=[claim.pk]) in html
    request.user = world.finance
    html = template.render(Context({"claim": claim, "request": request}))
    assert "1,000.01" in html and 'name="amount"' not in html
