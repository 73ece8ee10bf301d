"""Uploading a document to a household's file (DOMAIN §9).

Only JPEG, PNG and PDF are kept, judged by the content and never by the name: an executable
renamed .pdf or .jpg is refused by its first bytes. Images are re-encoded without their EXIF block
(core.uploads.photo_for_storage, as for investigation photos); a PDF must open, not be encrypted,
and its page count is stored. The size is checked before anything is read. The file is saved
through the model's FileField, i.e. Django's default storage, under an opaque name."""

from __future__ import annotations

import io
from pathlib import PurePath

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.scoping import village_q
from core.audit import audit
from core.exceptions import ApplicationError
from core.uploads import MB, PhotoRefused, photo_for_storage

from ..models import HOUSEHOLD_ITEMS, ArchiveDocument, Item

DOCUMENT_MAX_BYTES = 10 * MB
DOCUMENT_ACCEPT = "image/jpeg,image/png,application/pdf"
UPLOAD_ROLES = (Role.VILLAGE_CADRE, Role.LOAN_OFFICER, Role.APPROVER, Role.COUNTY_OFFICE, Role.ADMIN)
# Executables and scripts: refused with the rule named, whatever the file is called.
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa")
PDF_MAGIC = b"%PDF-"
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


class DocumentRefused(ApplicationError):
    def __init__(self, message, code: str):
        super().__init__(message, code, field="file")


def _name(file) -> str:
    return PurePath(str(getattr(file, "name", "") or "").replace("\\", "/")).name[:200] or "document"


def can_upload(user, household) -> bool:
    """The household's village cadre, loan officers and approvers of the branch serving its
    township, the county office and administrators of its county (the scope decides which
    household they reach; the role decides whether they may add to its file)."""
    if not getattr(user, "is_authenticated", False) or not user.has_role(*UPLOAD_ROLES):
        return False
    return type(household).objects.filter(village_q(user, "village"), pk=household.pk).exists()


def _check_size(file) -> None:
    size = getattr(file, "size", None)
    if size is None or size > DOCUMENT_MAX_BYTES:
        raise DocumentRefused(
            _("“%(name)s” is larger than %(mb)d MB; documents may be at most %(mb)d MB.")
            % {"name": _name(file), "mb": DOCUMENT_MAX_BYTES // MB},
            "document_too_large",
        )


def _pdf_pages(data: bytes, name: str) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise DocumentRefused(
                _("“%(name)s” is an encrypted PDF; send it without a password.") % {"name": name},
                "document_encrypted",
            )
        pages = len(reader.pages)
    except DocumentRefused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError):
        pages = 0
    if pages < 1:
        raise DocumentRefused(
            _("“%(name)s” is not a PDF that can be read; send a readable PDF.") % {"name": name},
            "document_unreadable",
        )
    return pages


def document_for_storage(file) -> tuple[ContentFile, str, int]:
    """(the content to store, its type, its pages) or DocumentRefused."""
    _check_size(file)
    name = _name(file)
    file.seek(0)
    head = file.read(16)
    file.seek(0)
    if head.startswith(EXECUTABLE_MAGIC):
        raise DocumentRefused(
            _(
                "“%(name)s” is a program, not a document; only JPEG, PNG and PDF files are accepted, "
                "judged by their content whatever the file is called."
            )
            % {"name": name},
            "document_executable",
        )
    if head.startswith(PDF_MAGIC):
        data = file.read()
        file.seek(0)
        return ContentFile(data, name=name), "application/pdf", _pdf_pages(data, name)
    if head.startswith(IMAGE_MAGIC):
        try:
            content = photo_for_storage(file)
        except PhotoRefused as e:
            raise DocumentRefused(e.message, "document_unreadable") from None
        kind = "image/png" if head.startswith(b"\x89PNG") else "image/jpeg"
        return content, kind, 1
    raise DocumentRefused(
        _("“%(name)s” is not a JPEG, PNG or PDF file; only these are accepted, judged by their content.")
        % {"name": name},
        "document_format",
    )


def document_upload(acting_user, household, item, file, loan=None, note="") -> ArchiveDocument:
    if not can_upload(acting_user, household):
        raise ApplicationError(_("You may not add documents to this household's file."), "forbidden")
    item = Item(item)
    if item in HOUSEHOLD_ITEMS and loan is not None:
        raise ApplicationError(
            _("This item belongs to the household, not to a loan."), "item_loan", field="loan"
        )
    if loan is not None and loan.household_id != household.pk:
        raise ApplicationError(_("This loan is not the household's."), "item_loan", field="loan")
    if item not in HOUSEHOLD_ITEMS and item != Item.OTHER and loan is None:
        raise ApplicationError(_("Choose the loan this document belongs to."), "item_loan", field="loan")
    content, content_type, pages = document_for_storage(file)
    with transaction.atomic():
        doc = ArchiveDocument(
            household=household,
            loan=loan,
            item=item,
            original_name=_name(file),
            content_type=content_type,
            size=content.size,
            pages=pages,
            note=(note or "")[:200],
            uploaded_by=acting_user,
        )
        # FileField.save goes through the field's storage (the default storage): no path of our own.
        doc.file.save(content.name, content, save=False)
        doc.save()
        audit(
            actor=acting_user,
            action="archive.document_upload",
            obj=doc,
            data={
                "household": household.pk,
                "loan": getattr(loan, "pk", None),
                "item": item.value,
                "content_type": content_type,
                "size": doc.size,
                "pages": pages,
            },
        )
    return doc
