"""The leverage headroom on the pages (DOMAIN §8; P1 art.38): loan officers and approvers see their
bank's fund in the counties their branch serves, the county office, finance and the fund committee
their county's funds — on the home page and on the bank's approval and disbursement queues, with a
warning from 90 % use. Read through riskfund.selectors.headroom_for by a lazy context processor."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from riskfund.selectors import headroom_for
from tests.factories import (
    BankFactory,
    BranchFactory,
    HouseholdFactory,
    LoanFactory,
    RiskFundFactory,
    UserFactory,
)
from tests.riskfund.test_leverage import lent, shrink_fund

pytestmark = pytest.mark.django_db

D = Decimal
TODAY = datetime.date(2026, 6, 17)
PANEL = "headroom-panel"
WARNING = "headroom-warning"


def page(client_as, user, name):
    r = client_as(user).get(reverse(name))
    assert r.status_code == 200
    return r.content.decode()


def test_headroom_for_each_role(world):
    other_bank = BankFactory(name="其他银行", code="B009")
    other_branch = BranchFactory(parent=other_bank, name="其他支行", code="B009-01")
    other_branch.served_townships.set([world.t1])
    other_bank_fund = RiskFundFactory(county=world.county, bank=other_bank, deposit="100.00")
    RiskFundFactory(county=world.other_county, bank=world.bank, deposit="100.00")  # county Z at bank B
    other_officer = UserFactory(username="officer9", unit=other_branch, roles=[Role.LOAN_OFFICER])
    bank_approver = UserFactory(username="bankapprover", unit=world.bank, roles=[Role.APPROVER])

    def funds(user):
        return [h.fund for h in headroom_for(user, TODAY)]

    for user in (world.officer, world.approver, bank_approver):
        assert funds(user) == [world.fund], user
    assert funds(other_officer) == [other_bank_fund]
    for user in (world.county_office, world.finance, world.committee):
        assert set(funds(user)) == {world.fund, other_bank_fund}, user
    for user in (world.cadre, world.township_officer, world.other_cadre):
        assert funds(user) == [], user


def test_the_figures(world):
    lent(world, "70000.00")
    lent(world, "500000.00", village=world.vz)  # county Z: not this fund's
    [room] = headroom_for(world.officer, TODAY)
    assert (room.balance, room.multiple, room.cap, room.outstanding, room.headroom) == (
        D("10000000.00"),
        D("10.00"),
        D("100000000.00"),
        D("70000.00"),
        D("99930000.00"),
    )
    assert (room.used_percent, room.warning) == (D("0.0"), False)


@pytest.mark.parametrize("name", ["home", "loans:disbursement_queue"])
def test_the_officer_sees_the_headroom(world, client_as, name):
    lent(world, "70000.00")
    html = page(client_as, world.officer, name)
    assert PANEL in html and WARNING not in html
    for figure in ("10,000,000.00", "100,000,000.00", "70,000.00", "99,930,000.00", "0.0%"):
        assert figure in html, figure


def test_the_approver_sees_it_on_the_approval_queue(world, client_as):
    html = page(client_as, world.approver, "loans:approval_queue")
    assert PANEL in html and "100,000,000.00" in html


@pytest.mark.parametrize("role", ["county_office", "finance", "committee"])
def test_the_county_sees_it_at_home(world, client_as, role):
    html = page(client_as, getattr(world, role), "home")
    assert PANEL in html and "100,000,000.00" in html


@pytest.mark.parametrize("role", ["cadre", "township_officer", "admin"])
def test_others_see_no_headroom(world, client_as, role):
    assert PANEL not in page(client_as, getattr(world, role), "home")


@pytest.mark.parametrize(
    ("outstanding", "shown", "warned"),
    [("89999.99", "89.9%", False), ("90000.00", "90.0%", True), ("100000.01", "100.0%", True)],
)
def test_the_warning_from_90_percent(world, client_as, outstanding, shown, warned):
    shrink_fund(world.fund, "10000.00")  # cap 100,000.00
    lent(world, outstanding)
    for user, name in ((world.officer, "loans:disbursement_queue"), (world.county_office, "home")):
        html = page(client_as, user, name)
        assert shown in html
        assert (WARNING in html) is warned, (user, outstanding)


def test_an_empty_fund_warns(world, client_as):
    shrink_fund(world.fund, "0.00")
    html = page(client_as, world.officer, "home")
    assert WARNING in html


def test_headroom_costs_at_most_three_queries_and_none_for_others(world, django_assert_max_num_queries):
    from accounts.models import User

    for username, most in (("officer", 3), ("finance", 3), ("cadre", 0), ("township", 0)):
        user = User.objects.get(username=username)
        user.role_codes  # noqa: B018  (the menu has read the roles by the time a page renders)
        with django_assert_max_num_queries(most):
            list(headroom_for(user, TODAY))


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    ("role", "name"),
    [
        ("officer", "home"),
        ("officer", "loans:disbursement_queue"),
        ("approver", "loans:approval_queue"),
        ("finance", "home"),
        ("county_office", "home"),
    ],
)
def test_page_queries_stay_bounded(world, client_as, django_assert_max_num_queries, role, name):
    client = client_as(getattr(world, role))
    url = reverse(name)
    before = _queries(client, url)
    # More funds in the county, more loans: the headroom costs no query more.
    for i in range(3):
        bank = BankFactory(name=f"银行{i}", code=f"B1{i}")
        RiskFundFactory(county=world.county, bank=bank, deposit="1000.00")
        LoanFactory(household=HouseholdFactory(village=world.v1a), branch=world.br1)
    with django_assert_max_num_queries(before):
        assert client.get(url).status_code == 200
    with django_assert_max_num_queries(25):
        assert client.get(url).status_code == 200
