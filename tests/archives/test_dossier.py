"""The dossier PDF (issue 13): read back from the real PDF with pdftotext and pypdf."""

import io
import subprocess
import tempfile

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter

from archives import dossier
from archives.models import ArchiveDocument, Item
from tests.factories import CreditRatingFactory, HouseholdFactory, LoanFactory, SettlementFactory

pytestmark = pytest.mark.django_db


def text_of(pdf: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        out = subprocess.run(["pdftotext", "-layout", f.name, "-"], capture_output=True, check=True)
    return out.stdout.decode()


def blank_pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 80), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def add_document(
    household, user, *, data: bytes, content_type: str, name: str, pages: int = 1, item=Item.OTHER
):
    from django.core.files.base import ContentFile

    doc = ArchiveDocument(
        household=household,
        item=item,
        original_name=name,
        content_type=content_type,
        size=len(data),
        pages=pages,
        uploaded_by=user,
    )
    doc.file.save(name, ContentFile(data), save=False)
    doc.save()
    return doc


@pytest.fixture
def household(world):
    h = HouseholdFactory(village=world.v1a, registration_no="450322100099")
    CreditRatingFactory(household=h, profile=world.profile, branch=world.br1, rated_by=world.officer)
    loan = LoanFactory(household=h, branch=world.br1)
    SettlementFactory(loan=loan)
    return h


def head_of(h):
    return h.members.get(is_head=True)


def test_content_sections_and_masked_id(world, household):
    d = dossier.dossier_pdf(household, user=world.township_officer)
    assert d.pdf.startswith(b"%PDF") and d.pages == len(PdfReader(io.BytesIO(d.pdf)).pages) >= 3
    text = text_of(d.pdf)
    flat = "".join(text.split())
    head = head_of(household)
    assert head.name in flat
    for title in dossier.section_titles().values():
        assert "".join(str(title).split()) in flat, title
    assert head.id_number_masked in flat
    assert head.id_number not in flat
    assert "450322100099" in flat and "共" in flat
    # Money as banks print it, and the printer by name (not login).
    assert f"{household.loans.get().amount:,.2f}" in flat and "," in f"{household.loans.get().amount:,.2f}"
    assert world.township_officer.name in flat


def test_full_id_for_roles_allowed_it(world, household):
    d = dossier.dossier_pdf(household, user=world.officer)
    assert head_of(household).id_number in "".join(text_of(d.pdf).split())


def test_uploaded_pdf_appended_and_jpeg_placed(world, household):
    before = dossier.dossier_pdf(household, user=world.cadre).pages
    add_document(
        household, world.cadre, data=blank_pdf(3), content_type="application/pdf", name="c.pdf", pages=3
    )
    after = dossier.dossier_pdf(household, user=world.cadre)
    assert after.pages == before + 3
    reader = PdfReader(io.BytesIO(after.pdf))
    last = "".join(reader.pages[-1].extract_text().split())
    assert household.registration_no in last and f"共{after.pages}页" in last  # the footer laid over
    add_document(
        household, world.cadre, data=jpeg(), content_type="image/jpeg", name="id.jpg", item=Item.ID_CARD
    )
    with_image = dossier.dossier_pdf(household, user=world.cadre)
    reader = PdfReader(io.BytesIO(with_image.pdf))
    assert any(page.images for page in reader.pages)


def test_household_without_loans_prints(world):
    h = HouseholdFactory(village=world.v1a)
    d = dossier.dossier_pdf(h, user=world.cadre)
    flat = "".join(text_of(d.pdf).split())
    assert "无" in flat and head_of(h).name in flat


def test_application_prints_its_eligibility_rules_with_sources(world, household):
    from tests.factories import application_create

    app = application_create(acting_user=world.cadre, household=household)
    d = dossier.dossier_pdf(household, user=world.county_office)
    flat = "".join(text_of(d.pdf).split())
    rows = dossier._eligibility_rows(app)
    assert len(rows) > 1 and all(r["rule"] for r in rows)  # the rules, not "could not judge"
    assert "".join(str(rows[0]["rule"]).split())[:6] in flat
    assert any(r["source"] for r in rows)


def test_investigation_photos_are_placed(world, household):
    from django.core.files.base import ContentFile

    from loans.models import InvestigationPhoto
    from tests.factories import application_create

    app = application_create(acting_user=world.cadre, household=household)
    photo = InvestigationPhoto(application=app, caption="猪舍", uploaded_by=world.officer)
    photo.image.save("p.jpg", ContentFile(jpeg()), save=False)
    photo.save()
    d = dossier.dossier_pdf(household, user=world.county_office)
    assert any(page.images for page in PdfReader(io.BytesIO(d.pdf)).pages)
    assert "猪舍" in text_of(d.pdf)


def test_the_rules_cite_documents_by_name_and_say_on_which_day_they_were_checked(world, household):
    from django.utils import timezone

    from tests.factories import application_create

    application_create(acting_user=world.cadre, household=household)
    flat = "".join(text_of(dossier.dossier_pdf(household, user=world.county_office).pdf).split())
    assert "《临桂区实施细则》" in flat
    assert "P1art." not in flat and "DOMAIN" not in flat
    assert f"以下条件按打印日（{timezone.localdate():%Y-%m-%d}）适用的政策" in flat
