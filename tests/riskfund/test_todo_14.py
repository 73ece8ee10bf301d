"""The loss claims on the home page's to-do list and the menu's badge (issue 14): the county office's
claims to review, the committee's to decide, finance's to pay; each line links to the claim list
showing exactly those claims; claims of another county's fund are not counted; the home page no
longer repeats them in a panel of its own; its query count does not grow with the claims."""

import pytest
from django.urls import reverse

from riskfund.models import CompensationClaim
from riskfund.services import claims
from tests.factories import RiskFundFactory

from .claim_helpers import approved, file, make_loan

pytestmark = pytest.mark.django_db


def reviewed(world, loan):
    claim = file(world, loan)
    return claims.claim_review(acting_user=world.county_office, claim=claim, comment="材料齐全")


@pytest.fixture
def claim_world(world):
    w = world
    w.filed = [file(w, make_loan(w)) for _ in range(2)]
    w.reviewed = reviewed(w, make_loan(w))
    w.approved = approved(w, make_loan(w))
    w.rejected = claims.claim_reject(
        acting_user=w.county_office, claim=file(w, make_loan(w)), reason="材料不全"
    )
    # Claims on another county's fund: nobody of this county counts them.
    other_fund = RiskFundFactory(county=w.other_county, bank=w.bank, deposit="1000000.00")
    for claim in (file(w, make_loan(w)), reviewed(w, make_loan(w)), approved(w, make_loan(w))):
        CompensationClaim.objects.filter(pk=claim.pk).update(fund=other_fund)
    return w


def lines(response) -> dict:
    return {item.key: item for item in response.context["todo"]}


def badge(response):
    return {item.href: item.count for item in response.context["nav_items"]}[reverse("riskfund:claim_list")]


def listed(client, url) -> set[int]:
    response = client.get(url)
    assert response.status_code == 200
    return {c.pk for c in response.context["page_obj"].object_list}


@pytest.mark.parametrize(
    ("role", "key", "expected"),
    [
        ("county_office", "claims_review", "filed"),
        ("committee", "claims_decide", "reviewed"),
        ("finance", "claims_pay", "approved"),
    ],
)
def test_each_role_sees_its_claims_with_a_link_and_a_badge(claim_world, client_as, role, key, expected):
    w = claim_world
    client = client_as(getattr(w, role))
    response = client.get(reverse("home"))
    want = {c.pk for c in w.filed} if expected == "filed" else {getattr(w, expected).pk}
    claim_lines = {k: item for k, item in lines(response).items() if k.startswith("claims_")}
    assert list(claim_lines) == [key]
    item = claim_lines[key]
    assert item.count == len(want)
    # The line opens the claim list filtered to exactly those claims.
    assert listed(client, item.url) == want
    assert badge(response) == len(want)
    html = response.content.decode()
    assert item.label in html
    # No second panel repeating the queues at the bottom of the page.
    assert 'id="claim-queues"' not in html


def test_committee_home_is_not_empty_while_a_claim_waits(claim_world, client_as):
    response = client_as(claim_world.committee).get(reverse("home"))
    html = response.content.decode()
    assert "待决定的补偿申请" in html
    assert "暂无待办" not in html


def test_nothing_waiting_no_badge(world, client_as):
    response = client_as(world.committee).get(reverse("home"))
    assert response.context["todo"] == []
    assert badge(response) is None
    assert "暂无待办" in response.content.decode()


def test_other_county_counts_only_its_own(claim_world, client_as):
    from tests.factories import UserFactory

    w = claim_world
    from accounts.models import Role

    other = UserFactory(unit=w.other_county, roles=[Role.COUNTY_OFFICE, Role.FUND_COMMITTEE, Role.FINANCE])
    response = client_as(other).get(reverse("home"))
    counts = {k: item.count for k, item in lines(response).items() if k.startswith("claims_")}
    assert counts == {"claims_review": 1, "claims_decide": 1, "claims_pay": 1}
    assert badge(response) == 3


def test_roles_without_a_queue_get_no_claim_lines(claim_world, client_as):
    for user in (claim_world.officer, claim_world.admin, claim_world.cadre):
        response = client_as(user).get(reverse("home"))
        keys = [i.key for i in response.context["todo"] + response.context["todo_clear"]]
        assert not [k for k in keys if k.startswith("claims_")]


@pytest.mark.parametrize("role", ["county_office", "committee", "finance"])
def test_home_queries_do_not_grow_with_the_claims(world, client_as, role, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_as(getattr(world, role))
    file(world, make_loan(world))
    approved(world, make_loan(world))
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("home")).status_code == 200
    for _ in range(4):
        file(world, make_loan(world))
        reviewed(world, make_loan(world))
        approved(world, make_loan(world))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("home"))
    assert response.status_code == 200


def test_claim_counts_join_the_one_todo_query(claim_world, rf, django_assert_num_queries):
    from config.todo import menu_counts, todo_items

    request = rf.get("/")
    request.user = claim_world.committee
    assert request.user.role_codes
    with django_assert_num_queries(1):
        items = todo_items(request)
        menu_counts(request)
    assert [i.count for i in items if i.key == "claims_decide"] == [1]
