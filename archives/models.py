"""One household, one file (一户一档, DOMAIN §9; P1 arts. 42-43): the documents uploaded to a
household's credit archive (and to each of its loans), and the batch jobs that print dossiers for a
whole village or township.

Files go through Django's storage API (local disk by default, an S3-compatible store by setting)
under opaque names; they are never served from a public URL, only through a scoped view."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import OrgUnit
from households.models import Household
from loans.models import Loan


class Item(models.TextChoices):
    """The checklist of DOMAIN §9, in the order the dossier prints it."""

    RATING_FORM = "rating_form", _("Rating and credit form (评级授信表)")
    ID_CARD = "id_card", _("ID cards")
    HOUSEHOLD_REGISTER = "household_register", _("Household register")
    MARITAL_PROOF = "marital_proof", _("Proof of marital status")
    CREDIT_REPORT = "credit_report", _("Personal credit report")
    APPLICATION_FORM = "application_form", _("Loan application form")
    CONTRACT = "contract", _("Loan contract")
    LOAN_RECEIPT = "loan_receipt", _("Loan receipt (借据)")
    PHOTOS = "photos", _("Investigation and check photos")
    CHECK_REPORT = "check_report", _("Post-loan check reports")
    CLASSIFICATION_FORM = "classification_form", _("Five-level classification form")
    OTHER = "other", _("Other")


# Items kept once per household; the others once per loan (or application).
HOUSEHOLD_ITEMS = (
    Item.RATING_FORM,
    Item.ID_CARD,
    Item.HOUSEHOLD_REGISTER,
    Item.MARITAL_PROOF,
    Item.CREDIT_REPORT,
)


def document_path(instance, filename: str) -> str:
    """An opaque name: nothing of the household, the person or the original file name."""
    return f"archives/{uuid.uuid4().hex}"


class ArchiveDocument(models.Model):
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="archive_documents", verbose_name=_("household")
    )
    loan = models.ForeignKey(
        Loan,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="archive_documents",
        verbose_name=_("loan"),
    )
    item = models.CharField(_("item"), max_length=32, choices=Item.choices)
    file = models.FileField(_("file"), upload_to=document_path, max_length=200)
    original_name = models.CharField(_("original file name"), max_length=200)
    # Judged from the content when uploaded: image/jpeg, image/png or application/pdf.
    content_type = models.CharField(_("content type"), max_length=32)
    size = models.PositiveIntegerField(_("size (bytes)"))
    pages = models.PositiveSmallIntegerField(_("pages"), default=1)
    note = models.CharField(_("note"), max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("archive document")
        verbose_name_plural = _("archive documents")
        ordering = ["household_id", "item", "uploaded_at", "id"]
        indexes = [models.Index(fields=["household", "item"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(content_type__in=["image/jpeg", "image/png", "application/pdf"]),
                name="archive_document_type",
            )
        ]

    def __str__(self):
        return f"{self.get_item_display()} · {self.original_name}"


class DossierJob(models.Model):
    """Printing the dossiers of every household of a village or township, as a Celery job: one
    item per household, so a worker killed mid-batch resumes where it stopped without printing any
    household twice."""

    class Mode(models.TextChoices):
        ZIP = "zip", _("One PDF per household, in a ZIP")
        COMBINED = "combined", _("One combined PDF")

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Printing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    unit = models.ForeignKey(
        OrgUnit, on_delete=models.PROTECT, related_name="+", verbose_name=_("village or township")
    )
    mode = models.CharField(_("output"), max_length=16, choices=Mode.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(_("households"), default=0)
    done = models.PositiveIntegerField(_("printed"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    result = models.FileField(_("result"), upload_to=document_path, max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by")
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("dossier batch")
        verbose_name_plural = _("dossier batches")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.unit} · {self.get_mode_display()}"


class DossierJobItem(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        DONE = "done", _("Printed")
        FAILED = "failed", _("Failed")

    job = models.ForeignKey(
        DossierJob, on_delete=models.CASCADE, related_name="items", verbose_name=_("batch")
    )
    household = models.ForeignKey(
        Household, on_delete=models.PROTECT, related_name="+", verbose_name=_("household")
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    file = models.FileField(_("PDF"), upload_to=document_path, max_length=200, blank=True)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("dossier batch item")
        verbose_name_plural = _("dossier batch items")
        ordering = ["job_id", "id"]
        constraints = [models.UniqueConstraint(fields=["job", "household"], name="dossier_job_item_once")]

    def __str__(self):
        return f"{self.job_id}/{self.household_id}: {self.state}"
