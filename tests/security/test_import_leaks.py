"""Information leaks through the existing-loan import (#10; PIPL arts. 28, 51; DOMAIN §2). A loan
officer could upload a CSV of ID numbers and learn, from the row messages, which belong to members
registered in another county ("该户不在您的管辖范围内" against "没有登记此身份证号的家庭成员") and who
belongs to which household there. Outside the officer's area must read exactly like not registered:
the same message, the same code, and the same queries (no extra lookup that a timing could show)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from loans.services.imports import parse_loans
from tests.factories import HouseholdFactory, MemberFactory, unique_id_number
from tests.loans.test_loan_import import csv_file, row

pytestmark = pytest.mark.django_db


@pytest.fixture
def mine(world):
    """A household in the officer's area (township t1, served by branch br1)."""
    return HouseholdFactory(village=world.v1a, head__age=40)


@pytest.fixture
def elsewhere(world):
    """A household in another county, with a second member besides the head."""
    household = HouseholdFactory(village=world.vz, head__age=40)
    MemberFactory(household=household)
    return household


def errors_and_queries(user, rows):
    """The row errors as (row, column, code, message), and the queries that produced them."""
    # A fresh user each time, so nothing cached on it from an earlier call changes the count.
    user = type(user).objects.get(pk=user.pk)
    with translation.override("zh-hans"), CaptureQueriesContext(connection) as queries:
        preview = parse_loans(csv_file(rows), "loans.csv", user=user)
    return [(e.row, e.column, e.code, e.message) for e in preview.errors], len(queries.captured_queries)


def test_an_id_number_registered_in_another_county_reads_like_an_unknown_one(world, elsewhere):
    registered = elsewhere.members.exclude(is_head=True).get().id_number
    unknown = unique_id_number()

    outside, outside_queries = errors_and_queries(world.officer, [row(None, id_number=registered)])
    absent, absent_queries = errors_and_queries(world.officer, [row(None, id_number=unknown)])

    assert (
        outside
        == absent
        == [(2, "借款人身份证号", "unknown_borrower", "您的管辖范围内没有登记此身份证号的家庭成员。")]
    )
    assert outside_queries == absent_queries


def test_a_household_number_of_another_county_reads_like_an_unknown_one(world, elsewhere):
    # The message quotes the number the officer typed, so each is compared with its own number.
    outside, outside_queries = errors_and_queries(world.officer, [row(elsewhere)])
    absent, absent_queries = errors_and_queries(world.officer, [row(None, **{"户编号": "NOPE-000001"})])

    def shape(errors, number):
        return [(r, c, code, message.replace(number, "…")) for r, c, code, message in errors]

    assert shape(outside, elsewhere.registration_no) == shape(absent, "NOPE-000001")
    assert outside[0][2] == "unknown_household"
    assert outside[0][3] == f"您的管辖范围内没有以“{elsewhere.registration_no}”登记的家庭。"
    assert outside_queries == absent_queries


def test_a_member_of_a_household_elsewhere_does_not_show_who_belongs_where(world, mine, elsewhere):
    # My household's number with the ID of a member elsewhere: "not a member of this household"
    # would confirm the person is registered somewhere; it reads like an unknown ID instead.
    member_elsewhere = elsewhere.members.exclude(is_head=True).get().id_number
    outside, outside_queries = errors_and_queries(world.officer, [row(mine, id_number=member_elsewhere)])
    absent, absent_queries = errors_and_queries(world.officer, [row(mine, id_number=unique_id_number())])
    assert outside == absent
    assert [code for _r, _c, code, _m in outside] == ["unknown_borrower"]
    assert outside_queries == absent_queries


def test_another_township_of_the_same_county_is_outside_too(world):
    # Branch br1 serves township t1 only; a household of t2 is as unknown to its officer.
    there = HouseholdFactory(village=world.v2a, head__age=40)
    head = there.members.get(is_head=True).id_number
    by_id, _ = errors_and_queries(world.officer, [row(None, id_number=head)])
    by_number, _ = errors_and_queries(world.officer, [row(there)])
    assert [e[2] for e in by_id] == ["unknown_borrower"]
    assert [e[2] for e in by_number] == ["unknown_household"]


def test_the_import_page_shows_the_same_answer_for_both(world, client_as, elsewhere):
    client = client_as(world.officer)
    registered = elsewhere.members.get(is_head=True).id_number

    def page_errors(id_number):
        response = client.post(
            reverse("loans:book_import"), {"file": csv_file([row(None, id_number=id_number)])}
        )
        assert response.status_code == 200
        return [(e.row, e.column, e.code, e.message) for e in response.context["errors"]]

    assert page_errors(registered) == page_errors(unique_id_number())


def test_the_officer_still_imports_in_the_own_area(world, mine):
    # The rule narrows what is found, not what is allowed: a household of the officer's area,
    # by number or by ID, is found and checked as before.
    head = mine.members.get(is_head=True).id_number
    preview = parse_loans(csv_file([row(None, id_number=head)]), "loans.csv", user=world.officer)
    assert preview.errors == [] and preview.loans[0].household == mine
