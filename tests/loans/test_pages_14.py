"""Issue 14, the application pages and the loan page: only links the user may open, a blank form
judged only on what is filled in, rule citations as readers cite them, the action panel and the
stepper, and amounts labelled and formatted the same everywhere."""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from loans.services import changes
from loans.workflow import State
from tests.factories import HouseholdFactory, MemberFactory
from tests.loans.test_settlements import make_loan

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"loans:{name}", args=args)


# ---- 1. the loan page links only to what the user may open ------------------------------------


def test_loan_page_hides_the_renewal_draft_from_the_bank(world, client_as, household):
    loan = make_loan(household, world)
    draft = changes.renewal_start(
        acting_user=world.cadre,
        loan=loan,
        term_months=24,
        bank_account_no="6230 0000 1111 2222",
        capacity_attested=True,
        consent_publicity=True,
        consent_credit_query=True,
    )
    assert draft.state == State.DRAFT
    link = url("application_detail", draft.pk)
    # The bank may not open a village's draft, so its loan page does not link to it ...
    assert client_as(world.officer).get(link).status_code == 404
    html = client_as(world.officer).get(url("book_detail", loan.pk)).content.decode()
    assert f'href="{link}"' not in html
    # ... while the cadre who wrote it sees the link, and it opens.
    html = client_as(world.cadre).get(url("book_detail", loan.pk)).content.decode()
    assert f'href="{link}"' in html
    assert client_as(world.cadre).get(link).status_code == 200


# ---- 2. the new-application form judges only what is filled in --------------------------------


def check(client, household, **data):
    body = {"household": household.pk, "use_mode": "self", **data}
    return client.post(url("eligibility_check"), body).json()


def test_blank_form_fails_no_rule_for_a_field_not_filled_in(world, client_as, household):
    head = household.members.get(is_head=True)
    data = check(client_as(world.cadre), household, borrower=head.pk)
    rows = {r["rule"]: r for r in data["results"]}
    assert data["failed"] == 0, [
        r["message"] for r in data["results"] if not r["passed"] and not r["pending"]
    ]
    for code in (
        "amount_range",
        "term_range",
        "productive_purpose",
        "forbidden_purpose",
        "bank_account",
        "capacity",
    ):
        assert rows[code]["pending"], code
    # Not "unknown purpose “”" or "a term of 0 months": it waits.
    text = " ".join(r["message"] for r in data["results"])
    assert "“”" not in text and "0个月" not in text
    assert "不符合" not in data["verdict"] and data["state"] == "wait"
    # What is filled in is judged: a forbidden purpose fails at once, the amount still waits.
    data = check(client_as(world.cadre), household, borrower=head.pk, purpose_category="house_building")
    rows = {r["rule"]: r for r in data["results"]}
    assert not rows["forbidden_purpose"]["passed"] and not rows["forbidden_purpose"]["pending"]
    assert rows["amount_range"]["pending"] and data["failed"] >= 1 and data["state"] == "bad"


def test_live_panel_cites_the_documents(world, client_as, household):
    head = household.members.get(is_head=True)
    data = check(client_as(world.cadre), household, borrower=head.pk)
    rating = next(r for r in data["results"] if r["rule"] == "valid_rating")
    assert [c["text"] for c in rating["citations"]] == [
        "《临桂区实施细则》第十条",
        "《山西省实施意见》五（一）",
    ]
    assert rating["citations"][0]["title"] == "《桂林市临桂区扶贫小额信贷实施细则》"


def test_no_borrower_is_chosen_when_the_head_is_too_old_and_ages_are_shown(world, client_as):
    household = HouseholdFactory(village=world.v1a, head__age=70)
    MemberFactory(household=household, name="王小明", age=35)
    html = client_as(world.cadre).get(url("application_create", household.pk)).content.decode()
    select = re.search(r'<select name="borrower".*?</select>', html, re.S).group(0)
    assert "selected" not in select.replace('value="" selected', "")
    assert "70岁" in select and "35岁" in select
    assert "不在可借款年龄" in html


def test_an_eligible_head_is_still_chosen(world, client_as, household):
    head = household.members.get(is_head=True)
    html = client_as(world.cadre).get(url("application_create", household.pk)).content.decode()
    assert re.search(rf'<option value="{head.pk}" selected', html)


# ---- 3. refusals cite the documents ------------------------------------------------------------


def test_refused_submit_cites_the_document_with_its_title(world, client_as, new_application):
    app = new_application(purpose_category="house_building", bank_account_no="")
    r = client_as(world.cadre).post(url("application_transition", app.pk, "submit"))
    assert r.status_code == 400
    html = r.content.decode()
    section = html[html.index('id="rule-errors"') :]
    section = section[: section.index("</div>")]
    assert "《山西省实施意见》四（五）" in section
    assert 'title="《山西省扶贫小额信贷实施意见》"' in section
    assert "P2 §" not in html and "art." not in section


# ---- 4. the action panel, the success message and the progress bar ---------------------------


def actions_card(html: str) -> str:
    return html[html.index('id="actions"') :]


def test_draft_has_one_primary_action_and_withdrawal_behind_a_confirmation(world, client_as, new_application):
    app = new_application()
    html = actions_card(client_as(world.cadre).get(url("application_detail", app.pk)).content.decode())
    assert html.count("btn primary") == 1
    primary = re.search(r'<button type="submit" class="btn primary">([^<]+)</button>', html).group(1)
    assert primary == "提交村级审核"
    # Withdrawal is a quiet <details>: its reason box and its confirm button are inside it.
    withdraw = re.search(
        r'<details class="step secondary-step danger" id="step-withdraw">(.*?)</details>', html, re.S
    )
    assert (
        withdraw and 'name="withdraw-comment"' in withdraw.group(1) and "确认：撤回申请" in withdraw.group(1)
    )
    # No text area is open outside the step it belongs to: submit's comment is folded away.
    outside = re.sub(r"<details.*?</details>", "", html, flags=re.S)
    assert "<textarea" not in outside


def test_refused_withdrawal_reopens_its_box_with_the_error(world, client_as, new_application):
    app = new_application()
    r = client_as(world.cadre).post(
        url("application_transition", app.pk, "withdraw"), {"withdraw-comment": " "}
    )
    assert r.status_code == 400
    assert re.search(r'id="step-withdraw" open>', r.content.decode())


def test_success_message_says_what_happened_and_who_acts_next(world, client_as, new_application):
    app = new_application()
    r = client_as(world.cadre).post(url("application_transition", app.pk, "submit"), follow=True)
    text = " ".join(str(m) for m in r.context["messages"])
    assert "提交" in text and "下一步：村干部进行村级审核" in text


def test_progress_bar_shows_the_stage_and_how_long_it_has_waited(
    world, client_as, new_application, drive, pinned_clock
):
    app = drive(new_application(), State.PUBLICITY)
    entered = timezone.localdate()
    pinned_clock.shift(datetime.timedelta(days=3))
    html = client_as(world.cadre).get(url("application_detail", app.pk)).content.decode()
    bar = html[html.index('id="progress"') : html.index('class="layout-2"')]
    labels = re.findall(r'<span class="stage-label">([^<]+)</span>', bar)
    assert labels[:4] == ["草稿", "村级审核", "公示", "银行受理"]
    assert re.search(r'class="stage current" aria-current="step">.*?公示', bar)
    assert bar.count('class="stage done"') == 2
    assert f"已停留3天（自{entered:%Y-%m-%d}起）" in bar
    assert "下一步：公示进行中" in bar


def test_rejected_application_stops_at_its_stage(world, client_as, new_application, drive):
    app = drive(new_application(), State.VILLAGE_REVIEW)
    client_as(world.cadre).post(
        url("application_transition", app.pk, "village_reject"), {"village_reject-comment": "不符合"}
    )
    html = client_as(world.cadre).get(url("application_detail", app.pk)).content.decode()
    assert re.search(r'class="stage stopped" aria-current="step">.*?村级审核', html)


# ---- 5. amounts labelled and formatted the same everywhere -------------------------------------


def test_detail_labels_applied_and_approved_amounts_and_formats_rates(
    world, client_as, new_application, drive
):
    app = drive(new_application(amount=Decimal("30000")), State.DISBURSED)
    html = client_as(world.cadre).get(url("application_detail", app.pk)).content.decode()
    assert re.search(r"<th>申请金额（元）</th><td>30,000.00</td>", html)
    assert re.search(r"<th>批准金额（元）</th><td>30,000.00</td>", html)
    assert "<th>金额（元）</th>" not in html
    assert re.search(r"<td>\d+\.\d{1,2}%</td>", html)  # the loan's rate as 4.35%
    assert not re.search(r"<td>\d+\.\d{4}</td>", html)


def test_bank_forms_and_publicity_show_rates_and_amounts_formatted(world, client_as, new_application, drive):
    app = drive(new_application(amount=Decimal("30000")), State.APPROVED)
    html = client_as(world.officer).get(url("application_disburse", app.pk)).content.decode()
    assert re.search(r'id="contract-rate">\d+\.\d{2}%<', html)
    assert "30,000.00" in html


def test_publicity_board_labels_the_amount_applied_for(world, client_as, new_application, drive):
    drive(new_application(amount=Decimal("30000")), State.PUBLICITY)
    html = client_as(world.cadre).get(url("publicity_board")).content.decode()
    assert "申请金额（元）" in html and "30,000.00" in html
    # On a phone each application is a card instead of the row-spanned table.
    assert 'class="card pub-card"' in html and "个工作日" in html


def test_a_draft_that_breaks_a_rule_is_edited_first(world, client_as, new_application):
    app = new_application(bank_account_no="")
    html = actions_card(client_as(world.cadre).get(url("application_detail", app.pk)).content.decode())
    assert html.count("btn primary") == 1
    assert re.search(r'<a class="btn primary" href="/loans/\d+/edit/">修改草稿</a>', html)
