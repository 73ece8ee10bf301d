"""The home page as a to-do list (issue 14): for each role, what waits for this user in their
area, with counts; each line links to a list showing exactly those items; the menu shows the
same counts; the page's query count does not grow with the data.

The pinned day is Wednesday 2026-06-17: "this week" ends on Sunday 06-21."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from loans.models import ApplicationHistory, Extension, Loan, LoanApplication, PostLoanCheck, PublicityNotice
from loans.workflow import State
from subsidies.models import SubsidyBatch
from subsidies.workflow import State as BatchState
from tests.conftest import moment
from tests.factories import HouseholdFactory, LoanFactory, UserFactory

TODAY = datetime.date(2026, 6, 17)


# ---- data ----------------------------------------------------------------------------------------


def app_in(world, state, *, village=None, branch=None, last_step="", since=None, **fields) -> LoanApplication:
    """An application of a new household of `village` put straight in `state` (the state is
    protected: tests set it directly), its last history row `last_step` taken at `since`."""
    household = HouseholdFactory(village=village or world.v1a)
    app = LoanApplication.objects.create(
        household=household,
        borrower=household.members.get(is_head=True),
        amount=Decimal("30000.00"),
        term_months=24,
        purpose_category="breeding",
        created_by=world.cadre,
        branch=branch if branch is not None else world.br1,
        **fields,
    )
    LoanApplication.objects.filter(pk=app.pk).update(state=state)
    if last_step:
        row = ApplicationHistory.objects.create(
            application=app, transition=last_step, from_state="", to_state=state, by=world.cadre
        )
        if since is not None:
            ApplicationHistory.objects.filter(pk=row.pk).update(at=moment(since))
    if since is not None:
        LoanApplication.objects.filter(pk=app.pk).update(created_at=moment(since))
    return LoanApplication.objects.get(pk=app.pk)


def in_publicity(world, ends_on: datetime.date, **kw) -> LoanApplication:
    app = app_in(world, State.PUBLICITY, last_step="village_approve", **kw)
    for level in ("village", "township", "county"):
        PublicityNotice.objects.create(
            application=app,
            level=level,
            start_on=ends_on - datetime.timedelta(days=6),
            end_on=ends_on,
            working_days=5,
            posted_by=world.cadre,
        )
    return app


def loan_in(world, *, village=None, branch=None, **fields) -> Loan:
    household = HouseholdFactory(village=village or world.v1a)
    return LoanFactory(household=household, branch=branch or world.br1, account_no="6230 1111", **fields)


def check_due(world, due_on: datetime.date, **kw) -> PostLoanCheck:
    return PostLoanCheck.objects.create(loan=loan_in(world, **kw), due_on=due_on)


def listed(response) -> set[int]:
    """The primary keys of the rows a list page shows."""
    ctx = response.context
    if "extensions" in ctx:
        return {e.pk for e in ctx["extensions"]}
    return {row.pk for row in ctx["page_obj"].object_list}


def todo(response) -> dict[str, object]:
    """The home page's to-do lines with something waiting, by key."""
    return {item.key: item for item in response.context["todo"]}


def counts(response) -> dict[str, int]:
    return {key: item.count for key, item in todo(response).items()}


def menu(response) -> dict[str, int | None]:
    return {item.href: item.count for item in response.context["nav_items"]}


def follow(client, item) -> set[int]:
    response = client.get(item.url)
    assert response.status_code == 200, item.url
    return listed(response)


# ---- village cadre --------------------------------------------------------------------------------


@pytest.fixture
def cadre_world(world):
    w = world
    w.draft = app_in(w, State.DRAFT)
    w.returned = app_in(w, State.DRAFT, last_step="send_back")
    w.objection = app_in(w, State.VILLAGE_REVIEW, last_step="object")
    w.review = app_in(w, State.VILLAGE_REVIEW, last_step="submit")  # plain review: not an objection
    w.ending = in_publicity(w, TODAY + datetime.timedelta(days=2))  # Friday
    w.next_week = in_publicity(w, TODAY + datetime.timedelta(days=7))
    w.check_overdue = check_due(w, TODAY - datetime.timedelta(days=3))
    w.check_soon = check_due(w, TODAY + datetime.timedelta(days=10))
    w.check_later = check_due(w, TODAY + datetime.timedelta(days=60))
    # Another village of the same township: none of it is this cadre's.
    app_in(w, State.DRAFT, village=w.v1b, last_step="send_back")
    app_in(w, State.VILLAGE_REVIEW, village=w.v1b, last_step="object")
    in_publicity(w, TODAY, village=w.v1b)
    check_due(w, TODAY - datetime.timedelta(days=1), village=w.v1b)
    return w


def test_cadre_todo_counts_links_and_menu(cadre_world, client_as):
    w = cadre_world
    client = client_as(w.cadre)
    response = client.get(reverse("home"))
    assert counts(response) == {
        "returned": 1,
        "objection": 1,
        "drafts": 2,
        "publicity_ending": 1,
        "checks_overdue": 1,
        "checks_due": 1,
    }
    lines = todo(response)
    assert follow(client, lines["returned"]) == {w.returned.pk}
    assert follow(client, lines["objection"]) == {w.objection.pk}
    assert follow(client, lines["drafts"]) == {w.draft.pk, w.returned.pk}
    assert follow(client, lines["publicity_ending"]) == {w.ending.pk}
    assert follow(client, lines["checks_overdue"]) == {w.check_overdue.pk}
    assert follow(client, lines["checks_due"]) == {w.check_soon.pk}
    # The menu carries the same counts on the entries whose lists hold them.
    nav = menu(response)
    # Drafts (the one sent back among them) and the objection.
    assert nav[reverse("loans:application_list")] == 2 + 1
    assert nav[reverse("loans:publicity_board")] == 1
    assert nav[reverse("loans:checks_due")] == 2
    html = response.content.decode()
    assert "待办" in html and "被退回修改的申请" in html


def test_cadre_of_another_village_sees_only_their_own(cadre_world, client_as):
    w = cadre_world
    other = UserFactory(username="cadre_v1b", unit=w.v1b, roles=[Role.VILLAGE_CADRE])
    client = client_as(other)
    response = client.get(reverse("home"))
    assert counts(response) == {
        "returned": 1,
        "objection": 1,
        "drafts": 1,
        "publicity_ending": 1,
        "checks_overdue": 1,
    }


def test_nothing_waiting_says_so(world, client_as):
    response = client_as(world.cadre).get(reverse("home"))
    assert response.context["todo"] == []
    html = response.content.decode()
    assert "暂无待办" in html
    # No badge anywhere in the menu.
    assert all(count is None for count in menu(response).values())


# ---- loan officer ---------------------------------------------------------------------------------


@pytest.fixture
def officer_world(world):
    w = world
    w.to_accept = app_in(w, State.BANK_ACCEPTANCE, last_step="end_publicity")
    w.to_disburse = app_in(w, State.APPROVED, last_step="approve")
    w.overdue_5 = loan_in(w, state=Loan.State.OVERDUE, days_past_due=5)
    w.overdue_100 = loan_in(w, state=Loan.State.OVERDUE, days_past_due=100, village=w.v1b)
    w.maturing = loan_in(w, maturity_on=TODAY + datetime.timedelta(days=20))
    loan_in(w, maturity_on=TODAY + datetime.timedelta(days=45))  # later than 30 days
    w.check_overdue = check_due(w, TODAY - datetime.timedelta(days=40))
    # Branch 2's township: not this officer's.
    app_in(w, State.BANK_ACCEPTANCE, village=w.v2a, branch=w.br2)
    app_in(w, State.APPROVED, village=w.v2a, branch=w.br2)
    loan_in(w, state=Loan.State.OVERDUE, days_past_due=5, village=w.v2a, branch=w.br2)
    loan_in(w, village=w.v2a, branch=w.br2, maturity_on=TODAY + datetime.timedelta(days=3))
    check_due(w, TODAY - datetime.timedelta(days=2), village=w.v2a, branch=w.br2)
    return w


def test_officer_todo_counts_links_and_menu(officer_world, client_as):
    w = officer_world
    client = client_as(w.officer)
    response = client.get(reverse("home"))
    assert counts(response) == {
        "to_accept": 1,
        "to_disburse": 1,
        "checks_overdue": 1,
        "overdue_1-30": 1,
        "overdue_91-180": 1,
        "maturing": 1,
    }
    lines = todo(response)
    assert follow(client, lines["to_accept"]) == {w.to_accept.pk}
    assert follow(client, lines["to_disburse"]) == {w.to_disburse.pk}
    assert follow(client, lines["checks_overdue"]) == {w.check_overdue.pk}
    assert follow(client, lines["overdue_1-30"]) == {w.overdue_5.pk}
    assert follow(client, lines["overdue_91-180"]) == {w.overdue_100.pk}
    assert follow(client, lines["maturing"]) == {w.maturing.pk}
    nav = menu(response)
    assert nav[reverse("loans:acceptance_queue")] == 1
    assert nav[reverse("loans:disbursement_queue")] == 1
    assert nav[reverse("loans:overdue_list")] == 2
    assert nav[reverse("loans:checks_due")] == 1


# ---- approver -------------------------------------------------------------------------------------


def test_approver_todo_counts_links_and_menu(world, client_as):
    w = world
    to_approve = app_in(w, State.BANK_APPROVAL, investigated_by=w.officer)
    # Four-eyes: the approver investigated this one, so it is not theirs to approve.
    app_in(w, State.BANK_APPROVAL, investigated_by=w.approver)
    app_in(w, State.BANK_APPROVAL, village=w.v2a, branch=w.br2, investigated_by=w.officer)
    loan = loan_in(w)
    extension = Extension.objects.create(
        loan=loan,
        requested_on=TODAY,
        months=6,
        old_maturity_on=loan.maturity_on,
        new_maturity_on=loan.maturity_on + datetime.timedelta(days=180),
        reason="灾害减产",
        requested_by=w.officer,
    )
    client = client_as(w.approver)
    response = client.get(reverse("home"))
    assert counts(response) == {"to_approve": 1, "extensions": 1}
    lines = todo(response)
    assert to_approve.pk in follow(client, lines["to_approve"])
    assert follow(client, lines["extensions"]) == {extension.pk}
    nav = menu(response)
    assert nav[reverse("loans:approval_queue")] == 1
    assert nav[reverse("loans:change_extension_queue")] == 1


# ---- finance --------------------------------------------------------------------------------------


def batch_in(world, state, *, quarter, county=None, **people) -> SubsidyBatch:
    batch = SubsidyBatch.objects.create(county=county or world.county, year=2026, quarter=quarter, **people)
    SubsidyBatch.objects.filter(pk=batch.pk).update(state=state)
    return SubsidyBatch.objects.get(pk=batch.pk)


def test_finance_todo_counts_links_and_four_eyes(world, client_as):
    w = world
    colleague = UserFactory(username="finance2", unit=w.county, roles=[Role.FINANCE])
    to_review = batch_in(w, BatchState.COMPUTED, quarter=1, computed_by=w.finance)
    # Reviewed by a colleague and computed by the system: this user may approve it.
    to_approve = batch_in(w, BatchState.REVIEWED, quarter=2, reviewed_by=colleague)
    batch_in(w, BatchState.COMPUTED, quarter=1, county=w.other_county)
    missing = loan_in(w, village=w.v2a, branch=w.br2)
    Loan.objects.filter(pk=missing.pk).update(account_no="  ")
    loan_in(w, village=w.vz)  # another county's loan
    Loan.objects.filter(household__village=w.vz).update(account_no="")
    client = client_as(w.finance)
    response = client.get(reverse("home"))
    assert counts(response) == {"batches_to_review": 1, "batches_to_approve": 1, "accounts_missing": 1}
    lines = todo(response)
    assert lines["batches_to_review"].url == reverse("subsidies:batch_detail", args=[to_review.pk])
    assert lines["batches_to_approve"].url == reverse("subsidies:batch_detail", args=[to_approve.pk])
    assert follow(client, lines["accounts_missing"]) == {missing.pk}
    assert menu(response)[reverse("subsidies:batch_list")] == 2
    # The colleague reviewed it: four-eyes leaves them only the review of the other batch.
    other = client_as(colleague).get(reverse("home"))
    assert counts(other) == {"batches_to_review": 1, "accounts_missing": 1}


def test_finance_batch_lists_when_several(world, client_as):
    w = world
    batches = {batch_in(w, BatchState.COMPUTED, quarter=q).pk for q in (1, 2)}
    client = client_as(w.finance)
    line = todo(client.get(reverse("home")))["batches_to_review"]
    assert line.count == 2
    assert follow(client, line) == batches


# ---- county office and township officer -----------------------------------------------------------


@pytest.fixture
def stuck_world(world):
    w = world
    long_ago = TODAY - datetime.timedelta(days=15)
    w.stuck_review = app_in(w, State.VILLAGE_REVIEW, last_step="submit", since=long_ago)
    w.stuck_bank = app_in(w, State.BANK_ACCEPTANCE, last_step="end_publicity", since=long_ago, village=w.v1b)
    w.stuck_t2 = app_in(
        w, State.BANK_APPROVAL, last_step="accept", since=long_ago, village=w.v2a, branch=w.br2
    )
    app_in(w, State.BANK_ACCEPTANCE, last_step="end_publicity", since=TODAY - datetime.timedelta(days=3))
    app_in(w, State.DRAFT, since=long_ago)  # a draft is the village's work in progress, not stuck
    app_in(w, State.BANK_ACCEPTANCE, last_step="end_publicity", since=long_ago, village=w.vz)
    return w


def test_county_sees_stuck_applications_per_stage(stuck_world, client_as):
    w = stuck_world
    client = client_as(w.county_office)
    response = client.get(reverse("home"))
    assert counts(response) == {
        "stuck_village_review": 1,
        "stuck_bank_acceptance": 1,
        "stuck_bank_approval": 1,
    }
    lines = todo(response)
    assert follow(client, lines["stuck_village_review"]) == {w.stuck_review.pk}
    assert follow(client, lines["stuck_bank_acceptance"]) == {w.stuck_bank.pk}
    assert follow(client, lines["stuck_bank_approval"]) == {w.stuck_t2.pk}
    assert menu(response)[reverse("loans:application_list")] == 3
    assert "超过10天" in response.content.decode()


def test_township_sees_its_own_township_only(stuck_world, client_as):
    response = client_as(stuck_world.township_officer).get(reverse("home"))
    assert counts(response) == {"stuck_village_review": 1, "stuck_bank_acceptance": 1}


# ---- the page's cost does not grow with the data --------------------------------------------------


def _many(world, n: int) -> None:
    long_ago = TODAY - datetime.timedelta(days=15)
    for i in range(n):
        village = world.v1a if i % 2 else world.v1b
        app_in(world, State.DRAFT, village=village, last_step="send_back")
        app_in(world, State.VILLAGE_REVIEW, village=village, last_step="object", since=long_ago)
        app_in(world, State.BANK_ACCEPTANCE, village=village, since=long_ago)
        app_in(world, State.APPROVED, village=village)
        app_in(world, State.BANK_APPROVAL, village=village, investigated_by=world.officer)
        in_publicity(world, TODAY, village=village)
        loan = loan_in(world, village=village, state=Loan.State.OVERDUE, days_past_due=10 + 40 * (i % 5))
        if i % 2:
            Loan.objects.filter(pk=loan.pk).update(account_no="")
        check_due(world, TODAY - datetime.timedelta(days=i + 1), village=village)


@pytest.mark.parametrize(
    "role", ["cadre", "officer", "approver", "finance", "county_office", "township_officer"]
)
def test_home_page_queries_do_not_grow_with_the_data(world, client_as, role, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    user = getattr(world, role)
    client = client_as(user)
    _many(world, 2)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("home")).status_code == 200
    _many(world, 20)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("home"))
    assert response.status_code == 200
    assert response.context["todo"]


@pytest.mark.parametrize("role", ["cadre", "officer", "approver", "finance", "county_office"])
def test_every_count_in_one_query_once_per_request(world, role, rf, django_assert_num_queries):
    """The home page and the menu share the counts: one query, made once per request."""
    from config.todo import menu_counts, todo_items

    _many(world, 3)
    request = rf.get("/")
    request.user = getattr(world, role)
    assert request.user.role_codes  # read once per request by every page already
    with django_assert_num_queries(1):
        items = todo_items(request)
        menu_counts(request)
        assert todo_items(request) is items
    assert any(item.count for item in items)
