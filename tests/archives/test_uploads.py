"""Uploading to a household's file: JPEG, PNG and PDF judged by content, the size cap, EXIF
dropped, PDF pages counted, who may upload, and the audit."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pypdf import PdfWriter

from archives.checklist import checklist
from archives.models import ArchiveDocument, Item
from archives.services.documents import DocumentRefused, document_upload
from core.exceptions import ApplicationError
from core.models import AuditEvent
from tests.factories import HouseholdFactory, LoanFactory


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def stored_files(media):
    return [p for p in media.rglob("*") if p.is_file()]


def png_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Model X"
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "blue").save(out, "PNG", exif=exif)
    return out.getvalue()


def pdf_bytes(pages=3, password=None) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def upload(name, data, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def household(world):
    return HouseholdFactory(village=world.v1a)


def test_an_uploaded_id_card_is_present_with_when_and_by(world, household, media):
    doc = document_upload(
        world.cadre, household, Item.ID_CARD, upload("身份证.png", png_with_exif(), "image/png")
    )
    row = next(r for r in checklist(household) if r.item == Item.ID_CARD)
    assert (row.status, row.by, row.when) == ("present", world.cadre, doc.uploaded_at)
    assert row.documents == [doc]
    # An opaque name in the storage: nothing of the person or the original name.
    assert doc.file.name.startswith("archives/") and "身份证" not in doc.file.name
    assert doc.original_name == "身份证.png"
    assert AuditEvent.objects.filter(action="archive.document_upload", object_id=str(doc.pk)).exists()


def test_a_png_comes_back_without_its_exif(world, household):
    data = png_with_exif()
    with Image.open(io.BytesIO(data)) as original:
        assert dict(original.getexif())
    doc = document_upload(world.cadre, household, Item.ID_CARD, upload("a.png", data))
    assert doc.content_type == "image/png"
    with doc.file.open("rb") as f, Image.open(f) as stored:
        assert not dict(stored.getexif())
        assert "exif" not in stored.info


def test_a_pdf_s_page_count_is_stored(world, household):
    loan = LoanFactory(household=household, branch=world.br1)
    doc = document_upload(
        world.officer, household, Item.CONTRACT, upload("contract.pdf", pdf_bytes(3)), loan=loan
    )
    assert (doc.content_type, doc.pages, doc.loan) == ("application/pdf", 3, loan)


@pytest.mark.parametrize(
    "name,data,code",
    [
        ("scan.pdf", b"MZ\x90\x00\x03" + b"\x00" * 200, "document_executable"),
        ("photo.jpg", b"\x7fELF\x02\x01\x01" + b"\x00" * 200, "document_executable"),
        ("notes.pdf", b"hello, this is text", "document_format"),
        ("broken.pdf", b"%PDF-1.7\n garbage", "document_unreadable"),
        ("locked.pdf", pdf_bytes(1, password="secret"), "document_encrypted"),
    ],
)
def test_refused_by_content_and_nothing_written(world, household, media, name, data, code):
    with pytest.raises(DocumentRefused) as e:
        document_upload(world.cadre, household, Item.ID_CARD, upload(name, data))
    assert e.value.code == code
    assert not ArchiveDocument.objects.exists()
    assert stored_files(media) == []


def test_a_renamed_executable_is_refused_naming_the_rule(world, household):
    with pytest.raises(DocumentRefused) as e:
        document_upload(world.cadre, household, Item.ID_CARD, upload("scan.pdf", b"MZ" + b"\x00" * 64))
    message = str(e.value.message)
    assert "scan.pdf" in message and "JPEG" in message and "PDF" in message


def test_an_oversized_file_is_refused_before_it_is_read(world, household, media):
    class Huge:
        name = "big.pdf"
        size = 10 * 1024 * 1024 + 1

        def read(self, *args):
            raise AssertionError("read before the size was checked")

        def seek(self, *args):
            raise AssertionError("opened before the size was checked")

    with pytest.raises(DocumentRefused) as e:
        document_upload(world.cadre, household, Item.ID_CARD, Huge())
    assert e.value.code == "document_too_large"
    assert "10 MB" in str(e.value.message)
    assert stored_files(media) == []


@pytest.mark.parametrize("who", ["cadre", "officer", "approver", "county_office", "admin"])
def test_who_may_upload(world, household, who):
    document_upload(getattr(world, who), household, Item.ID_CARD, upload("a.pdf", pdf_bytes(1)))


@pytest.mark.parametrize("who", ["township_officer", "finance", "other_cadre"])
def test_who_may_not_upload(world, household, who, media):
    with pytest.raises(ApplicationError):
        document_upload(getattr(world, who), household, Item.ID_CARD, upload("a.pdf", pdf_bytes(1)))
    assert stored_files(media) == []


def test_a_loan_item_needs_the_household_s_loan(world, household):
    other = LoanFactory(household=HouseholdFactory(village=world.v1a), branch=world.br1)
    with pytest.raises(ApplicationError):
        document_upload(world.officer, household, Item.CONTRACT, upload("a.pdf", pdf_bytes(1)))
    with pytest.raises(ApplicationError):
        document_upload(world.officer, household, Item.CONTRACT, upload("a.pdf", pdf_bytes(1)), loan=other)
