"""The claim's page (issue 14): the action panel comes before the claim's details and its loss; one
primary action, rejecting and withdrawing behind a <details> confirmation holding their own reason
box; the county office's rejection at review asks for no committee members, and on the committee's
page the members' box shows once until the rejection is opened."""

import re

import pytest
from django.urls import reverse

from riskfund.services import claims
from riskfund.workflow import State

from .claim_helpers import file, make_loan

pytestmark = pytest.mark.django_db

MEMBERS = "参与决定的管理委员会成员"


def page(client, claim):
    response = client.get(reverse("riskfund:claim_detail", args=[claim.pk]))
    assert response.status_code == 200
    return response, response.content.decode()


def secondary(html: str, name: str) -> str:
    """The <details> of a secondary step (its opening tag included)."""
    match = re.search(
        rf'<details class="step secondary-step[^"]*" id="step-{name}"[^>]*>.*?</details>', html, re.S
    )
    assert match, name
    return match.group(0)


def test_county_review_page_actions_first_reject_folded_without_committee_members(world, client_as):
    claim = file(world, make_loan(world))
    response, html = page(client_as(world.county_office), claim)
    # The actions come first, before the claim's details and its loss.
    assert html.index('id="actions"') < html.index('class="kv"') < html.index("<h2>损失计算</h2>")
    steps = {s["name"]: s for s in response.context["steps"]}
    assert steps["review"]["primary"] and not steps["review"]["secondary"]
    assert steps["reject"]["secondary"] and not steps["reject"]["primary"]
    reject = secondary(html, "reject")
    assert " open" not in reject.split(">", 1)[0]
    assert 'name="reject-reason"' in reject
    # Rejecting at review names no committee members: no such box anywhere on the county's page.
    assert "committee_members" not in html
    assert MEMBERS not in html
    # The primary action's button is the page's only primary button in the panel.
    assert html.count('class="btn primary"') == 1


def test_county_rejects_with_a_reason_only(world, client_as):
    claim = file(world, make_loan(world))
    client = client_as(world.county_office)
    url = reverse("riskfund:claim_step", args=[claim.pk, "reject"])
    # No reason: the page comes back with the rejection opened on its error.
    answer = client.post(url, {"reject-reason": ""})
    assert answer.status_code in (200, 400, 422)
    reject = secondary(answer.content.decode(), "reject")
    assert " open" in reject.split(">", 1)[0]
    assert "committee_members" not in answer.content.decode()
    answer = client.post(url, {"reject-reason": "材料不全"})
    assert answer.status_code == 302
    claim.refresh_from_db()
    assert claim.state == State.REJECTED


def test_committee_page_shows_the_members_box_once(world, client_as):
    claim = file(world, make_loan(world))
    claims.claim_review(acting_user=world.county_office, claim=claim, comment="")
    response, html = page(client_as(world.committee), claim)
    assert [s["name"] for s in response.context["steps"]] == ["approve", "reject"]
    reject = secondary(html, "reject")
    assert " open" not in reject.split(">", 1)[0]
    # Outside the folded rejection, the members' box is asked for once: by the approval.
    outside = html.replace(reject, "")
    assert outside.count(MEMBERS) == 1
    assert 'name="approve-committee_members"' in outside
    assert 'name="reject-reason"' in reject
    assert html.index('id="actions"') < html.index("<h2>损失计算</h2>")


def test_no_step_says_who_acts_next(world, client_as):
    claim = file(world, make_loan(world))
    response, html = page(client_as(world.finance), claim)
    assert response.context["steps"] == []
    assert "这笔补偿申请目前没有需要您办理的步骤" in html
    assert "下一步：由县扶贫办审核" in html


def test_officer_withdraw_is_folded(world, client_as):
    claim = file(world, make_loan(world))
    response, html = page(client_as(world.officer), claim)
    assert [s["name"] for s in response.context["steps"]] == ["withdraw"]
    withdraw = secondary(html, "withdraw")
    assert 'name="withdraw-reason"' in withdraw
    # No primary step of theirs: the panel says who acts next.
    assert "下一步：由县扶贫办审核" in html
