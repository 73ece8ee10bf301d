"""Issue 14: the household page is titled by its head, lists the household's applications and
loans the user may open, and offers "new loan application" only when one is possible, saying why
not otherwise (through the eligibility engine's own rules)."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from households.models import CreditRating, Household, Member
from households.services.blacklist import blacklist_add
from loans.services import applications
from tests.factories import (
    CreditRatingFactory,
    HouseholdFactory,
    LoanFactory,
    MemberFactory,
    application_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def home(world):
    household = HouseholdFactory(
        village=world.v1a, registration_no="4503121012010001", head__name="王建国", head__age=45
    )
    MemberFactory(household=household, name="李秀英", age=43)
    return household


def rate(world, household, grade=CreditRating.Grade.AAA, limit="50000.00"):
    return CreditRatingFactory(
        household=household,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        grade=grade,
        credit_limit=Decimal(limit),
        score=82 if grade != CreditRating.Grade.NONE else 50,
    )


def page(client, household) -> str:
    response = client.get(reverse("households:detail", args=[household.pk]))
    assert response.status_code == 200
    return response.content.decode()


def new_link(household) -> str:
    return f'href="{reverse("loans:application_create", args=[household.pk])}"'


def test_the_page_is_titled_by_the_head_with_the_number_smaller(world, client_as, home):
    html = page(client_as(world.cadre), home)
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert "王建国户" in title
    h1 = re.search(r"<h1>(.*?)</h1>", html, re.S).group(1)
    assert h1.startswith("王建国户") and "<small" in h1 and "4503121012010001" in h1


def test_a_household_without_a_head_keeps_its_number_as_title(world, client_as):
    household = HouseholdFactory(village=world.v1a, registration_no="4503121012010009", head=False)
    MemberFactory(household=household, name="赵四")
    html = page(client_as(world.cadre), household)
    assert "户 4503121012010009" in re.search(r"<h1>(.*?)</h1>", html, re.S).group(1)


def test_a_rated_household_without_loans_offers_a_new_application_to_its_cadre(world, client_as, home):
    rate(world, home)
    html = page(client_as(world.cadre), home)
    assert new_link(home) in html
    assert "不能新建贷款申请" not in html
    # The officer sees that it is possible but has no button: the village enters applications.
    html = page(client_as(world.officer), home)
    assert new_link(home) not in html and "可以新建贷款申请" in html


def test_without_a_rating_no_button_and_the_reason(world, client_as, home):
    html = page(client_as(world.cadre), home)
    assert new_link(home) not in html
    assert "不能新建贷款申请" in html and "没有有效的评级授信" in html
    # The rule's source is cited as the policy pages cite it, not as "P1 art.10".
    assert "《临桂区实施细则》第十条" in html and "P1 art.10" not in html


def test_a_rating_of_none_is_a_reason(world, client_as, home):
    rate(world, home, grade=CreditRating.Grade.NONE, limit="0.00")
    html = page(client_as(world.cadre), home)
    assert new_link(home) not in html
    assert "低于最低等级" in html


def test_blacklisted_is_a_reason(world, client_as, home):
    rate(world, home)
    blacklist_add(acting_user=world.county_office, household=home, reason="恶意逃债")
    html = page(client_as(world.cadre), home)
    assert new_link(home) not in html and "黑名单" in html.split("不能新建贷款申请")[1]


def test_monitored_household_where_the_profile_forbids_it_is_a_reason(world, client_as, home):
    rate(world, home)
    world.profile.allow_monitored_households = False
    world.profile.save()
    Household.objects.filter(pk=home.pk).update(poverty_status=Household.PovertyStatus.MONITORED_EDGE)
    html = page(client_as(world.cadre), home)
    assert new_link(home) not in html and "监测对象" in html.split("不能新建贷款申请")[1]


def test_no_member_of_working_age_is_a_reason(world, client_as):
    household = HouseholdFactory(village=world.v1a, head__name="张老汉", head__age=70)
    MemberFactory(household=household, name="张小妹", age=12, relation=Member.Relation.CHILD)
    rate(world, household)
    html = page(client_as(world.cadre), household)
    assert new_link(household) not in html
    reasons = html.split("不能新建贷款申请")[1]
    assert "没有家庭成员可以作为借款人" in reasons and "张老汉" in reasons and "张小妹" in reasons


def test_an_application_in_progress_is_a_reason_and_is_listed(world, client_as, home):
    rate(world, home)
    app = application_create(acting_user=world.cadre, household=home, amount=Decimal("20000.00"))
    applications.application_submit(acting_user=world.cadre, application=app)
    html = page(client_as(world.cadre), home)
    assert new_link(home) not in html
    detail = reverse("loans:application_detail", args=[app.pk])
    assert f'href="{detail}"' in html and "20,000.00" in html and "2026-06-17" in html
    assert f"申请 #{app.pk}" in html.split("不能新建贷款申请")[1]


def test_an_open_loan_is_a_reason_and_is_listed_with_its_figures(world, client_as, home):
    rate(world, home)
    loan = LoanFactory(household=home, branch=world.br1, outstanding=Decimal("12345.67"))
    html = page(client_as(world.cadre), home)
    assert new_link(home) not in html
    assert f'href="{reverse("loans:book_detail", args=[loan.pk])}"' in html
    assert "30,000.00" in html and "12,345.67" in html and "2028-03-20" in html
    assert "追加贷款" in html.split("不能新建贷款申请")[1]


def test_a_settled_loan_is_listed_but_blocks_nothing(world, client_as, home):
    rate(world, home)
    LoanFactory(household=home, branch=world.br1, state="settled", outstanding=Decimal("0.00"))
    html = page(client_as(world.cadre), home)
    assert new_link(home) in html and "已结清" in html


def test_only_what_the_user_may_open_is_listed(world, client_as, home):
    """The bank does not see the village's drafts: the officer's page neither lists nor links one
    (the reason still says an application is being prepared, without a link)."""
    rate(world, home)
    draft = application_create(acting_user=world.cadre, household=home)
    detail = f'href="{reverse("loans:application_detail", args=[draft.pk])}"'
    assert detail in page(client_as(world.cadre), home)
    officer_html = page(client_as(world.officer), home)
    assert detail not in officer_html and "草稿" in officer_html


def test_the_query_count_does_not_grow_with_applications_and_loans(
    world, client_as, home, django_assert_max_num_queries
):
    rate(world, home)
    client = client_as(world.cadre)
    LoanFactory(household=home, branch=world.br1, state="settled", outstanding=Decimal("0.00"))
    with CaptureQueriesContext(connection) as few:
        page(client, home)
    for _i in range(4):
        LoanFactory(household=home, branch=world.br1, state="settled", outstanding=Decimal("0.00"))
        app = application_create(acting_user=world.cadre, household=home)
        applications.application_withdraw(acting_user=world.cadre, application=app, comment="重复")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page(client, home)
