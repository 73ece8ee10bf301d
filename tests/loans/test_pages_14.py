"""Issue 14, the application pages and the loan page: only links the user may open, a blank form
judged only on what is filled in, rule citations as readers cite them, the action panel and the
stepper, and amounts labelled and formatted the same everywhere."""

import re

import pytest
from django.urls import reverse

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
