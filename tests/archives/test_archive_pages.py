"""The household's archive page and the scoped document download."""

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pypdf import PdfWriter

from archives.models import ArchiveDocument, Item
from archives.services.documents import document_upload
from tests.factories import CreditRatingFactory, HouseholdFactory, LoanFactory, application_create


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def pdf_bytes(pages=2) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def add_loan(world, household):
    application = application_create(acting_user=world.cadre, household=household)
    return LoanFactory(household=household, branch=world.br1, application=application)


@pytest.fixture
def household(world):
    h = HouseholdFactory(village=world.v1a)
    CreditRatingFactory(household=h, profile=world.profile, branch=world.br1, rated_by=world.officer)
    return h


def test_the_page_shows_missing_generated_and_present(world, household, client_as):
    document_upload(world.cadre, household, Item.ID_CARD, SimpleUploadedFile("id.pdf", pdf_bytes()))
    page = client_as(world.cadre).get(reverse("archives:household_archive", args=[household.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "archive-missing" in html and "archive-generated" in html and "archive-present" in html
    doc = ArchiveDocument.objects.get()
    assert reverse("archives:document_file", args=[doc.pk]) in html
    assert 'enctype="multipart/form-data"' in html
    assert "/media/" not in html
    assert reverse("archives:dossier_pdf", args=[household.pk]) in html


def test_the_loan_choice_prints_its_amount_as_banks_do(world, household, client_as):
    loan = add_loan(world, household)
    loan.amount = Decimal("50000.00")
    loan.save(update_fields=["amount"])
    page = client_as(world.cadre).get(reverse("archives:household_archive", args=[household.pk]))
    assert f"{loan.contract_no} · 50,000.00" in page.content.decode()


def test_the_page_is_titled_by_the_head_s_name(world, household, client_as):
    head = household.members.get(is_head=True)
    html = (
        client_as(world.cadre)
        .get(reverse("archives:household_archive", args=[household.pk]))
        .content.decode()
    )
    assert f"{head.name}户档案" in html and household.registration_no in html


def test_the_household_page_links_to_the_archive(world, household, client_as):
    page = client_as(world.cadre).get(reverse("households:detail", args=[household.pk]))
    assert reverse("archives:household_archive", args=[household.pk]) in page.content.decode()


def test_upload_through_the_page(world, household, client_as):
    url = reverse("archives:household_archive", args=[household.pk])
    client = client_as(world.cadre)
    response = client.post(
        url, {"item": Item.ID_CARD, "file": SimpleUploadedFile("id.pdf", pdf_bytes(2)), "note": "n"}
    )
    assert response.status_code == 302
    doc = ArchiveDocument.objects.get()
    assert (doc.pages, doc.uploaded_by) == (2, world.cadre)


def test_a_refused_upload_shows_the_rule_next_to_the_field(world, household, client_as, media):
    url = reverse("archives:household_archive", args=[household.pk])
    response = client_as(world.cadre).post(
        url, {"item": Item.ID_CARD, "file": SimpleUploadedFile("scan.pdf", b"MZ" + b"\x00" * 100)}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["file"]
    assert not ArchiveDocument.objects.exists()
    assert not [p for p in media.rglob("*") if p.is_file()]


def test_the_file_is_served_as_an_attachment(world, household, client_as):
    doc = document_upload(world.cadre, household, Item.ID_CARD, SimpleUploadedFile("身份证.pdf", pdf_bytes()))
    response = client_as(world.county_office).get(reverse("archives:document_file", args=[doc.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


def test_another_county_gets_404_on_page_and_file(world, household, client_as):
    doc = document_upload(world.cadre, household, Item.ID_CARD, SimpleUploadedFile("id.pdf", pdf_bytes()))
    client = client_as(world.other_cadre)
    assert client.get(reverse("archives:household_archive", args=[household.pk])).status_code == 404
    assert client.post(reverse("archives:household_archive", args=[household.pk]), {}).status_code == 404
    assert client.get(reverse("archives:document_file", args=[doc.pk])).status_code == 404


def test_the_page_s_queries_do_not_grow_with_loans(world, household, client_as):
    client = client_as(world.officer)
    url = reverse("archives:household_archive", args=[household.pk])
    add_loan(world, household)
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for _ in range(3):
        add_loan(world, household)
    with CaptureQueriesContext(connection) as four:
        assert client.get(url).status_code == 200
    assert len(four.captured_queries) == len(one.captured_queries)
    assert len(one.captured_queries) <= 25
