"""Issue 14, the reviewer's second look at the loan pages: the loan chain and the term of an
extended loan, overdue post-loan checks, actions offered only when their rules allow them,
the reason an application was sent back, the bank forms' order, labelled badges, and the
overdue list's selected bucket."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from loans.models import PostLoanCheck
from loans.services import applications, changes
from loans.workflow import State
from tests.factories import application_create
from tests.loans.test_settlements import make_loan

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = datetime.datetime(2025, 6, 2, 10, 0, tzinfo=datetime.UTC)


def url(name, *args):
    return reverse(f"loans:{name}", args=args)


def page(client, name, *args) -> str:
    response = client.get(url(name, *args))
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture
def loan(world, household):
    # Open on TODAY: 12 months from 2025-01-10.
    return make_loan(
        household, world, term_months=12, disbursed_on=D(2025, 1, 10), maturity_on=D(2026, 1, 10)
    )


# ---- 1. an extended loan: the chain card and the term -----------------------------------------


@time_machine.travel(TODAY, tick=False)
def test_extended_loan_page_speaks_of_its_extension(world, client_as, loan):
    ext = changes.extension_request(acting_user=world.officer, loan=loan, months=6, reason="洪灾减产")
    changes.extension_decide(acting_user=world.approver, extension=ext, approve=True, comment="同意")
    html = text(page(client_as(world.officer), "book_detail", loan.pk))
    # The chain card no longer says the loan was never extended ...
    assert "该贷款不是续贷，也未被续贷或展期" not in html
    assert "展期情况见下方" in html
    # ... and the term says how long it was and how far it was extended.
    assert "12 个月（展期 6 个月至 2026-07-10）" in html


# ---- 2. a missed post-loan check is overdue on the loan page -----------------------------------


@time_machine.travel(TODAY, tick=False)
def test_missed_check_is_marked_overdue_on_the_loan_page(world, client_as, loan):
    PostLoanCheck.objects.create(loan=loan, due_on=D(2025, 5, 1))
    html = page(client_as(world.county_office), "book_detail", loan.pk)
    assert '<span class="tag bad">逾期未检查</span>' in html


@time_machine.travel(TODAY, tick=False)
def test_done_and_later_checks_are_not_overdue(world, client_as, loan):
    PostLoanCheck.objects.create(loan=loan, due_on=D(2025, 3, 1), done_on=D(2025, 3, 2), findings="正常")
    PostLoanCheck.objects.create(loan=loan, due_on=D(2025, 12, 1))
    html = page(client_as(world.county_office), "book_detail", loan.pk)
    assert "逾期未检查" not in html


# ---- 3. actions only when their rules allow them ----------------------------------------------


@time_machine.travel(TODAY, tick=False)
def test_entrusted_loan_shows_why_it_cannot_be_extended(world, client_as, household):
    loan = make_loan(
        household,
        world,
        use_mode="entrusted",
        term_months=12,
        disbursed_on=D(2025, 1, 10),
        maturity_on=D(2026, 1, 10),
    )
    html = page(client_as(world.officer), "book_detail", loan.pk)
    assert url("change_extension_request", loan.pk) not in html
    assert "申请展期：不可办理" in text(html)
    assert "P1 art.27" in html
    # The request form names the rule before anything is typed.
    assert "P1 art.27" in page(client_as(world.officer), "change_extension_request", loan.pk)


@time_machine.travel(TODAY, tick=False)
def test_open_loan_still_offers_the_extension(world, client_as, loan):
    html = page(client_as(world.officer), "book_detail", loan.pk)
    assert url("change_extension_request", loan.pk) in html
    assert "不可办理" not in html


@time_machine.travel(TODAY, tick=False)
def test_loan_with_a_renewal_draft_links_to_it(world, client_as, loan):
    cadre = client_as(world.cadre)
    assert url("change_renewal", loan.pk) in page(cadre, "book_detail", loan.pk)
    draft = changes.renewal_start(
        acting_user=world.cadre,
        loan=loan,
        term_months=12,
        bank_account_no="6230 0000 1111 2222",
        capacity_attested=True,
        consent_publicity=True,
        consent_credit_query=True,
    )
    html = page(cadre, "book_detail", loan.pk)
    assert url("change_renewal", loan.pk) not in html
    assert f"续贷 #{draft.pk} 已开始" in html
    assert url("application_detail", draft.pk) in html


# ---- 4. the reason an application was sent back, at the top -----------------------------------


def test_sent_back_draft_shows_the_reason_at_the_top(world, client_as, household):
    app = application_create(acting_user=world.cadre, household=household)
    app = applications.application_submit(acting_user=world.cadre, application=app)
    app = applications.application_send_back(
        acting_user=world.cadre, application=app, comment="请补充土地面积"
    )
    assert app.state == State.DRAFT
    html = page(client_as(world.cadre), "application_detail", app.pk)
    progress = html[html.index('id="progress"') : html.index('class="layout-2"')]
    assert "退回原因：请补充土地面积" in progress
    assert f"{timezone.localdate():%Y-%m-%d}）" in progress
    # Once resubmitted the draft is no longer sent back.
    applications.application_submit(acting_user=world.cadre, application=app)
    html = page(client_as(world.cadre), "application_detail", app.pk)
    assert "退回原因" not in html


# ---- 5. the bank forms put the form first on a phone -------------------------------------------


def test_accept_and_approve_forms_keep_the_form_first():
    from pathlib import Path

    for name in ("accept_form.html", "approve_form.html"):
        assert '<div class="layout-2 form-first">' in (Path("templates/loans") / name).read_text()
    css = Path("static/css/loans.css").read_text()
    assert ".layout-2.form-first > :has(> .steps-card) { order: 0; }" in css


# ---- 6. labelled badges and the days past due in the classification history -------------------


@time_machine.travel(TODAY, tick=False)
def test_loan_page_labels_its_badges(world, client_as, loan):
    html = text(page(client_as(world.officer), "book_detail", loan.pk))
    assert "状态： 正常" in html or "状态：正常" in html
    assert "五级分类：" in html


@time_machine.travel(TODAY, tick=False)
def test_classification_history_says_days_past_due(world, client_as, loan):
    loan.classification_changes.create(
        from_class="normal", to_class="loss", floor="loss", days_past_due=2450, reason="按逾期天数自动调整"
    )
    html = text(page(client_as(world.officer), "book_detail", loan.pk))
    assert "逾期 2,450 天" in html
    assert "(2450)" not in html


# ---- 7. the overdue list marks the bucket it shows ---------------------------------------------


def test_overdue_list_marks_the_selected_bucket(world, client_as):
    html = client_as(world.officer).get(url("overdue_list") + "?bucket=1-30").content.decode()
    tile = re.search(r'<a class="card stat active" href="\?bucket=1-30" aria-current="page">', html)
    assert tile is not None
    assert len(re.findall(r'class="card stat active"', html)) == 1


def test_overdue_list_marks_all_when_no_bucket(world, client_as):
    html = client_as(world.officer).get(url("overdue_list")).content.decode()
    assert '<a class="card stat active" href="?" aria-current="page">' in html


# ---- 8. the stepper names the current stage on its own line ------------------------------------


@time_machine.travel(TODAY, tick=False)
def test_stepper_names_the_current_stage(world, client_as, household):
    app = application_create(acting_user=world.cadre, household=household)
    html = page(client_as(world.cadre), "application_detail", app.pk)
    assert '<p class="stepper-current">第 1 步（共 7 步）：草稿</p>' in html
    assert timezone.localdate() == D(2025, 6, 2)
