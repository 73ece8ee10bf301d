"""The claim pages: the list with its queues (scoped), one claim with its computation and steps,
filing from a loan, and the claim's panel on the loan page."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from riskfund.models import CompensationClaim
from riskfund.services import claims
from tests.factories import HouseholdFactory

from .claim_helpers import ROLES, approved, file, make_loan, second_user, unpaid_settlement

pytestmark = pytest.mark.django_db


def test_list_is_scoped_with_queues(world, client_as, django_assert_max_num_queries):
    for _ in range(3):
        file(world, make_loan(world))
    done = approved(world, make_loan(world))
    client = client_as(world.committee)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("riskfund:claim_list"))
    assert page.status_code == 200
    body = page.content.decode()
    assert body.count("CL-") == 4
    assert "50,000.00" in body and "40,000.00" in body
    assert [q["name"] for q in page.context["queues"]] == ["decide"]
    page = client_as(world.finance).get(reverse("riskfund:claim_list"), {"queue": "pay"})
    assert page.content.decode().count(f'href="{reverse("riskfund:claim_detail", args=[done.pk])}"') == 1
    assert page.context["page_obj"].paginator.count == 1
    assert (
        client.get(reverse("riskfund:claim_list"), {"state": "filed"}).context["page_obj"].paginator.count
        == 3
    )
    other = second_user(world, ROLES.FUND_COMMITTEE, unit=world.other_county)
    assert client_as(other).get(reverse("riskfund:claim_list")).context["page_obj"].paginator.count == 0
    assert client_as(other).get(reverse("riskfund:claim_detail", args=[done.pk])).status_code == 404


def test_detail_shows_the_computation_and_the_steps(world, client_as):
    world.profile.loss_includes_interest = True
    world.profile.save()
    loan = make_loan(world, outstanding=Decimal("1000.00"))
    unpaid_settlement(world, loan, "0.01")
    claim = file(world, loan)
    page = client_as(world.county_office).get(reverse("riskfund:claim_detail", args=[claim.pk]))
    body = page.content.decode()
    for figure in ("1,000.00", "0.01", "1,000.01", "800.00", "200.01"):
        assert figure in body
    assert [s["name"] for s in page.context["steps"]] == ["review", "reject"]
    assert (
        client_as(world.finance).get(reverse("riskfund:claim_detail", args=[claim.pk])).context["steps"] == []
    )


def test_steps_on_the_page(world, client_as):
    claim = file(world, make_loan(world))
    url = reverse("riskfund:claim_step", args=[claim.pk, "review"])
    assert client_as(world.finance).post(url, {}).status_code == 403
    answer = client_as(world.county_office).post(url, {"review-comment": "材料齐全"})
    assert answer.status_code == 302
    url = reverse("riskfund:claim_step", args=[claim.pk, "approve"])
    answer = client_as(world.committee).post(url, {"approve-committee_members": ""})
    assert answer.status_code == 400
    assert answer.context["steps"][0]["form"].errors["committee_members"]
    answer = client_as(world.committee).post(url, {"approve-committee_members": "张三、李四、王五"})
    assert answer.status_code == 302
    both = second_user(world, ROLES.FINANCE)
    answer = client_as(both).post(
        reverse("riskfund:claim_step", args=[claim.pk, "pay"]), {"pay-paid_on": "2026-06-17"}
    )
    assert answer.status_code == 302
    assert CompensationClaim.objects.get(pk=claim.pk).state == "paid"


def test_four_eyes_on_the_page_is_403(world, client_as):
    both = second_user(world, ROLES.COUNTY_OFFICE, ROLES.FUND_COMMITTEE)
    claim = file(world, make_loan(world))
    client = client_as(both)
    client.post(reverse("riskfund:claim_step", args=[claim.pk, "review"]), {})
    answer = client.post(
        reverse("riskfund:claim_step", args=[claim.pk, "approve"]), {"approve-committee_members": "张三"}
    )
    assert answer.status_code == 403


@pytest.mark.today("2026-06-16")
def test_file_page_before_the_day(world, client_as):
    loan = make_loan(world, maturity_on=datetime.date(2026, 3, 19))
    page = client_as(world.officer).get(reverse("riskfund:claim_file", args=[loan.pk]))
    assert page.status_code == 200
    assert "2026-06-17" in page.content.decode()
    assert page.context["form"] is None
    answer = client_as(world.officer).post(
        reverse("riskfund:claim_file", args=[loan.pk]), {"trigger": "default", "statement": "催收"}
    )
    assert answer.status_code == 400
    assert "2026-06-17" in str(answer.context["form"].errors)


def test_file_page_files(world, client_as):
    loan = make_loan(world, outstanding=Decimal("1000.01"))
    page = client_as(world.officer).get(reverse("riskfund:claim_file", args=[loan.pk]))
    assert "800.00" in page.content.decode() and "200.01" in page.content.decode()
    answer = client_as(world.officer).post(
        reverse("riskfund:claim_file", args=[loan.pk]), {"trigger": "default", "statement": "多次催收未果"}
    )
    claim = CompensationClaim.objects.get(loan=loan)
    assert answer.status_code == 302 and answer.url == reverse("riskfund:claim_detail", args=[claim.pk])
    assert (
        client_as(world.county_office)
        .post(reverse("riskfund:claim_file", args=[loan.pk]), {"trigger": "default", "statement": "x"})
        .status_code
        == 403
    )
    other = make_loan(world, household=HouseholdFactory(village=world.vz))
    assert client_as(world.officer).get(reverse("riskfund:claim_file", args=[other.pk])).status_code == 404


@pytest.mark.today("2026-06-16")
def test_loan_page_shows_the_date_then_the_link_then_the_claim(world, client_as, pinned_clock):
    loan = make_loan(world, maturity_on=datetime.date(2026, 3, 19))
    client = client_as(world.officer)
    url = reverse("loans:book_detail", args=[loan.pk])
    body = client.get(url).content.decode()
    assert "2026-06-17" in body
    file_url = reverse("riskfund:claim_file", args=[loan.pk])
    assert file_url in body
    pinned_clock.move_to(
        datetime.datetime(2026, 6, 17, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))
    )
    client = client_as(world.officer)
    body = client.get(url).content.decode()
    assert f'class="btn primary" href="{file_url}"' in body
    claim = file(world, loan)
    body = client.get(url).content.decode()
    assert reverse("riskfund:claim_detail", args=[claim.pk]) in body


def test_home_shows_the_queue_of_each_role(world, client_as):
    claim = file(world, make_loan(world))
    url = reverse("riskfund:claim_list") + "?queue=review"
    assert url in client_as(world.county_office).get(reverse("home")).content.decode()
    assert "?queue=" not in client_as(world.cadre).get(reverse("home")).content.decode()
    # Issue 14: a queue is a to-do line, a link once something waits in it.
    assert "?queue=decide" not in client_as(world.committee).get(reverse("home")).content.decode()
    claims.claim_review(acting_user=world.county_office, claim=claim, comment="")
    assert "?queue=decide" in client_as(world.committee).get(reverse("home")).content.decode()


def test_village_staff_see_the_claim_state_without_a_link(world, client_as):
    claim = file(world, make_loan(world))
    body = client_as(world.cadre).get(reverse("loans:book_detail", args=[claim.loan_id])).content.decode()
    assert reverse("riskfund:claim_detail", args=[claim.pk]) not in body
    assert str(claim) in body
