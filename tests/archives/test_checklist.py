"""The archive checklist (DOMAIN §9): missing, generated and present items, photos linked not
copied, and checklist_many in a fixed number of queries."""

import datetime
import io

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from archives.checklist import checklist, checklist_many
from archives.models import ArchiveDocument, Item
from loans.models import ClassificationChange, InvestigationPhoto
from loans.models_postloan import CheckPhoto, PostLoanCheck
from tests.factories import CreditRatingFactory, HouseholdFactory, LoanFactory, application_create


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, "PNG")
    return out.getvalue()


def by_item(rows, item, loan=None):
    return next(r for r in rows if r.item == item and (loan is None or r.loan == loan))


def full_household(world):
    household = HouseholdFactory(village=world.v1a)
    CreditRatingFactory(household=household, profile=world.profile, branch=world.br1, rated_by=world.officer)
    application = application_create(acting_user=world.cadre, household=household)
    InvestigationPhoto.objects.create(
        application=application, image=ContentFile(png_bytes(), "i.png"), uploaded_by=world.officer
    )
    loan = LoanFactory(household=household, branch=world.br1, application=application)
    check = PostLoanCheck.objects.create(
        loan=loan, due_on=datetime.date(2026, 1, 5), done_on=datetime.date(2026, 1, 6), officer=world.officer
    )
    CheckPhoto.objects.create(
        post_loan_check=check, image=ContentFile(png_bytes(), "c.png"), uploaded_by=world.officer
    )
    ClassificationChange.objects.create(
        loan=loan,
        from_class="normal",
        to_class="special",
        floor="normal",
        days_past_due=0,
        reason="x",
        by=world.officer,
    )
    ArchiveDocument.objects.create(
        household=household,
        item=Item.ID_CARD,
        file=ContentFile(png_bytes(), "id.png"),
        original_name="id.png",
        content_type="image/png",
        size=10,
        uploaded_by=world.cadre,
    )
    return household, loan


def test_a_household_without_anything_shows_its_items_missing(world):
    household = HouseholdFactory(village=world.v1a)
    rows = checklist(household)
    assert [r.item for r in rows] == [
        Item.RATING_FORM,
        Item.ID_CARD,
        Item.HOUSEHOLD_REGISTER,
        Item.MARITAL_PROOF,
        Item.CREDIT_REPORT,
    ]
    assert {r.status for r in rows} == {"missing"}
    assert all(r.loan is None and r.when is None for r in rows)


def test_generated_present_and_missing(world, media):
    household, loan = full_household(world)
    files_before = sorted(p for p in media.rglob("*") if p.is_file())
    rows = checklist(household)
    assert by_item(rows, Item.RATING_FORM).status == "generated"
    assert by_item(rows, Item.RATING_FORM).by == world.officer
    assert by_item(rows, Item.ID_CARD).status == "present"
    assert by_item(rows, Item.ID_CARD).by == world.cadre
    assert by_item(rows, Item.HOUSEHOLD_REGISTER).status == "missing"
    assert by_item(rows, Item.APPLICATION_FORM, loan).status == "generated"
    assert by_item(rows, Item.APPLICATION_FORM, loan).by == world.cadre
    assert by_item(rows, Item.CLASSIFICATION_FORM, loan).status == "generated"
    check_report = by_item(rows, Item.CHECK_REPORT, loan)
    assert (check_report.status, check_report.when) == ("generated", datetime.date(2026, 1, 6))
    # The contract number alone does not put the contract in the file.
    assert by_item(rows, Item.CONTRACT, loan).status == "missing"
    assert by_item(rows, Item.LOAN_RECEIPT, loan).status == "missing"
    photos = by_item(rows, Item.PHOTOS, loan)
    assert photos.status == "present"
    assert len(photos.photos) == 2
    assert photos.photos[0].url.startswith("/loans/")
    assert any("/checks/" in p.url for p in photos.photos)
    # Shown by link: no file was copied.
    assert sorted(p for p in media.rglob("*") if p.is_file()) == files_before
    assert not ArchiveDocument.objects.filter(item=Item.PHOTOS).exists()


def test_an_application_without_a_loan_has_its_form_and_photos(world):
    household = HouseholdFactory(village=world.v1a)
    application = application_create(acting_user=world.cadre, household=household)
    rows = checklist(household)
    form = by_item(rows, Item.APPLICATION_FORM)
    assert (form.status, form.application, form.loan) == ("generated", application, None)
    assert by_item(rows, Item.PHOTOS).status == "missing"


def test_checklist_many_is_constant_in_queries(world):
    households = [full_household(world)[0] for _ in range(5)]

    def count(hs):
        fresh = list(type(hs[0]).objects.filter(pk__in=[h.pk for h in hs]))
        with CaptureQueriesContext(connection) as ctx:
            result = checklist_many(fresh)
        assert set(result) == {h.pk for h in hs}
        return len(ctx.captured_queries)

    assert count(households[:1]) == count(households)
