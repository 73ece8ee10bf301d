"""The dossier PDF through the page and the API (issue 13): scoped, inline with a Chinese file
name, audited; the query count does not grow with the settlements and checks."""

import datetime
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from archives import dossier
from core.models import AuditEvent
from loans.models_postloan import PostLoanCheck
from tests.factories import HouseholdFactory, LoanFactory, SettlementFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def household(world):
    return HouseholdFactory(village=world.v1a)


def test_page_inline_pdf_with_chinese_name_and_audit(world, household, client_as):
    response = client_as(world.township_officer).get(reverse("archives:dossier_pdf", args=[household.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    disposition = response["Content-Disposition"]
    assert disposition.startswith("inline")
    assert (
        quote(dossier.dossier_filename(household)) in disposition
        and "filename*=utf-8''" in disposition.lower()
    )
    event = AuditEvent.objects.get(action="archive.dossier_print", object_id=str(household.pk))
    assert event.actor == world.township_officer and event.data["via"] == "page"


def test_full_id_print_records_the_reveal(world, household, client_as):
    client_as(world.cadre).get(reverse("archives:dossier_pdf", args=[household.pk]))
    assert AuditEvent.objects.filter(action="member.id_number_view", actor=world.cadre).exists()


def test_other_county_gets_404(world, household, client_as, api_as):
    response = client_as(world.other_cadre).get(reverse("archives:dossier_pdf", args=[household.pk]))
    assert response.status_code == 404
    response = api_as(world.other_cadre).get(f"/api/v1/households/{household.pk}/archive/dossier.pdf")
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="archive.dossier_print").exists()


def test_api_returns_the_pdf(world, household, api_as):
    response = api_as(world.county_office).get(f"/api/v1/households/{household.pk}/archive/dossier.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert int(response["X-Dossier-Pages"]) >= 3


def _grow(world, loan, n, *, start=0):
    for i in range(start, start + n):
        SettlementFactory(loan=loan, period_start=loan.disbursed_on + datetime.timedelta(days=93 * i))
        due = datetime.date(2025, 6, 1) + datetime.timedelta(days=30 * i)
        PostLoanCheck.objects.create(
            loan=loan, due_on=due, done_on=due, officer=world.officer, findings="正常"
        )


def test_query_count_does_not_grow_with_settlements_and_checks(world, household, monkeypatch):
    monkeypatch.setattr(dossier, "_eligibility_rows", lambda app: [])
    loan = LoanFactory(household=household, branch=world.br1)
    _grow(world, loan, 1)
    dossier.render_html(household, user=world.county_office)  # caches warmed (content types, …)
    with CaptureQueriesContext(connection) as few:
        dossier.render_html(household, user=world.county_office)
    _grow(world, loan, 6, start=1)
    LoanFactory(household=household, branch=world.br1)
    with CaptureQueriesContext(connection) as many:
        dossier.render_html(household, user=world.county_office)
    assert len(many) == len(few), "\n".join(q["sql"][:90] for q in many.captured_queries)
