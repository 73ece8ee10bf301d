"""Batch printing of dossiers (issue 13): a job for every household of a village or township,
one item per household, printed by the Celery task `archives.print_dossiers` one item at a time
so a worker killed mid-batch resumes with the items still pending and never prints one twice."""

from __future__ import annotations

import datetime
import io
import re
import shutil
import tempfile
import zipfile

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from accounts.models import OrgUnit, Role
from accounts.scoping import village_q, visible_regions
from core.audit import audit
from households.models import Household

from ..models import DossierJob, DossierJobItem

# Admins and bank staff print files for an inspector (issue 13); the poverty offices too, for
# the households of their own area.
BATCH_ROLES = (Role.ADMIN, Role.COUNTY_OFFICE, Role.TOWNSHIP_OFFICER, Role.LOAN_OFFICER, Role.APPROVER)
UNIT_KINDS = (OrgUnit.Kind.VILLAGE, OrgUnit.Kind.TOWNSHIP)


def can_batch(user) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return (user.is_superuser and user.unit_id is None) or user.has_role(*BATCH_ROLES)


def batch_units(user):
    """The villages and townships the user may print a batch for."""
    if not can_batch(user):
        return OrgUnit.objects.none()
    return visible_regions(user).filter(kind__in=UNIT_KINDS).order_by("code")


def jobs_scoped(user):
    """Batches the user may see: those of units in their area (404 outside it)."""
    if not can_batch(user):
        return DossierJob.objects.none()
    return DossierJob.objects.filter(unit__in=batch_units(user).values("pk")).select_related(
        "unit", "requested_by"
    )


def unit_households(unit: OrgUnit):
    if unit.kind == OrgUnit.Kind.VILLAGE:
        q = Q(village=unit)
    else:
        q = Q(village__parent=unit)
    return Household.objects.filter(q).order_by("registration_no", "pk")


def dossier_job_start(*, acting_user, unit: OrgUnit | int, mode: str) -> DossierJob:
    """Create the job and its items for every household of `unit` the user can see, record it,
    and queue the printing once the transaction commits."""
    if not can_batch(acting_user):
        raise PermissionDenied
    unit_id = unit.pk if isinstance(unit, OrgUnit) else unit
    unit = batch_units(acting_user).filter(pk=unit_id).first()
    if unit is None:
        raise Http404
    if mode not in DossierJob.Mode.values:
        raise ValueError(f"unknown mode {mode!r}")
    with transaction.atomic():
        households = list(
            unit_households(unit).filter(village_q(acting_user, "village")).values_list("pk", flat=True)
        )
        job = DossierJob.objects.create(unit=unit, mode=mode, total=len(households), requested_by=acting_user)
        DossierJobItem.objects.bulk_create(DossierJobItem(job=job, household_id=pk) for pk in households)
        audit(
            actor=acting_user,
            action="dossier_batch.start",
            obj=job,
            data={"unit": unit.pk, "mode": mode, "households": len(households)},
        )
        transaction.on_commit(lambda: dispatch(job.pk))
    return job


def dossier_job_resume(*, acting_user, job: DossierJob, system: bool = False) -> int:
    """Queue the job again (its worker died, its message was lost): the task takes only the items
    still pending. Returns how many are pending."""
    with transaction.atomic():
        job = DossierJob.objects.select_for_update().get(pk=job.pk)
        pending = job.items.filter(state=DossierJobItem.State.PENDING).count()
        if job.state == DossierJob.State.DONE:
            return 0
        audit(
            actor=None if system else acting_user,
            action="dossier_batch.resume",
            obj=job,
            data={"pending": pending},
        )
        transaction.on_commit(lambda: dispatch(job.pk))
    return pending


def dispatch(job_id: int) -> None:
    """Send the job to DOSSIER_PARALLEL workers at once: each run takes the next pending item
    (skip_locked), so they share the households and none prints one twice."""
    from ..tasks import print_dossiers

    queue = settings.DOSSIER_QUEUE
    options = {"queue": queue} if queue else {}
    for _ in range(max(1, settings.DOSSIER_PARALLEL)):
        print_dossiers.apply_async(args=[job_id], **options)


def jobs_resume_stalled(*, older_than: datetime.timedelta = datetime.timedelta(minutes=15)) -> list[int]:
    """From beat: a job queued or printing for longer than `older_than` is queued again. Harmless
    when it is only slow: two runs take different items (skip_locked) and each item once."""
    cutoff = timezone.now() - older_than
    ids = list(
        DossierJob.objects.filter(
            state__in=[DossierJob.State.QUEUED, DossierJob.State.RUNNING], created_at__lt=cutoff
        ).values_list("pk", flat=True)
    )
    for pk in ids:
        dossier_job_resume(acting_user=None, job=DossierJob(pk=pk), system=True)
    return ids


def _render(household_id: int, user):
    from .. import dossier

    household = Household.objects.select_related("village__parent").get(pk=household_id)
    return dossier.dossier_pdf(household, user=user, via="batch")


def item_print_next(job_id: int) -> bool:
    """Print the next pending item of the job, in a transaction of its own holding that item's row
    (skip_locked: another worker takes another item). Returns False when none is left to take."""
    job = DossierJob.objects.select_related("requested_by").get(pk=job_id)
    with transaction.atomic():
        item = (
            DossierJobItem.objects.select_for_update(skip_locked=True)
            .filter(job_id=job_id, state=DossierJobItem.State.PENDING)
            .order_by("pk")
            .first()
        )
        if item is None:
            return False
        DossierJob.objects.filter(pk=job_id, state=DossierJob.State.QUEUED).update(
            state=DossierJob.State.RUNNING
        )
        try:
            with transaction.atomic():
                result = _render(item.household_id, job.requested_by)
        except Exception as exc:  # noqa: BLE001 - one broken household must not stop the batch
            item.state = DossierJobItem.State.FAILED
            item.error = f"{type(exc).__name__}: {exc}"[:2000]
            item.save(update_fields=["state", "error"])
            _count(job_id, "failed")
            return True
        item.file.save(f"{item.pk}.pdf", ContentFile(result.pdf), save=False)
        item.pages = result.pages
        item.state = DossierJobItem.State.DONE
        item.save(update_fields=["file", "pages", "state"])
        _count(job_id, "done")
    return True


def _count(job_id: int, field: str) -> None:
    from django.db.models import F

    DossierJob.objects.filter(pk=job_id).update(**{field: F(field) + 1})


def _safe(text: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', "_", text).strip("_") or "household"


def job_finish_if_done(job_id: int) -> bool:
    """When no item is pending, build the result (a ZIP of the printed PDFs, or one combined PDF)
    and mark the job done. Only one run builds it (the job's row is locked)."""
    with transaction.atomic():
        job = DossierJob.objects.select_for_update().get(pk=job_id)
        if job.state == DossierJob.State.DONE:
            return False
        if job.items.filter(state=DossierJobItem.State.PENDING).exists():
            return False
        items = list(
            job.items.filter(state=DossierJobItem.State.DONE)
            .select_related("household")
            .order_by("household__registration_no", "pk")
        )
        heads = dict(
            Household.objects.filter(
                pk__in=[i.household_id for i in items], members__is_head=True
            ).values_list("pk", "members__name")
        )
        # Built in a temporary file, one household's PDF at a time: the worker's memory does not
        # grow with the batch (the combined PDF still holds every page's objects in pypdf).
        with tempfile.TemporaryFile() as out:
            if job.mode == DossierJob.Mode.ZIP:
                with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
                    for item in items:
                        name = _safe(f"{item.household.registration_no}_{heads.get(item.household_id, '')}")
                        with item.file.open("rb") as fh, archive.open(f"{name}.pdf", "w") as member:
                            shutil.copyfileobj(fh, member, 1 << 20)
                suffix = "zip"
            else:
                from pypdf import PdfWriter

                writer = PdfWriter()
                for item in items:
                    with item.file.open("rb") as fh:
                        writer.append(io.BytesIO(fh.read()))
                writer.write(out)
                suffix = "pdf"
            out.seek(0)
            job.result.save(f"{job.pk}.{suffix}", File(out), save=False)
        job.state = DossierJob.State.DONE
        job.finished_at = timezone.now()
        job.save(update_fields=["result", "state", "finished_at"])
    return True


def job_run(job_id: int) -> int:
    """The task's body: print pending items until none is left, then finish. Returns how many
    items this run took."""
    taken = 0
    while item_print_next(job_id):
        taken += 1
    job_finish_if_done(job_id)
    return taken


def result_name(job: DossierJob) -> str:
    suffix = "zip" if job.mode == DossierJob.Mode.ZIP else "pdf"
    return f"dossiers-{job.unit.code}-{job.pk}.{suffix}"


# ---------------------------------------------------------------------------------------------
# Reads for the batch pages (scoped: a job outside the user's area is a 404)


def job_get(*, user, pk) -> DossierJob:
    job = jobs_scoped(user).filter(pk=pk).first()
    if job is None:
        raise Http404
    return job


def may_download(user, job: DossierJob) -> bool:
    """The printed files carry full ID numbers when their requester may see them (DOMAIN §2):
    another user of the area downloads them only if allowed full numbers too."""
    from households.permissions import can_see_full_id

    if job.requested_by_id == user.pk or can_see_full_id(user):
        return True
    return job.requested_by is None or not can_see_full_id(job.requested_by)


def job_download(*, acting_user, job: DossierJob) -> File:
    """The batch's finished file, opened for `acting_user`; 404 when not finished or not theirs to
    take (may_download). Recorded in the audit log: it holds many households' files, perhaps with
    full ID numbers (DOMAIN §2)."""
    from households.permissions import can_see_full_id

    if job.state != DossierJob.State.DONE or not job.result or not may_download(acting_user, job):
        raise Http404
    full_ids = job.requested_by is not None and can_see_full_id(job.requested_by)
    audit(
        actor=acting_user,
        action="dossier_batch.download",
        obj=job,
        data={"households": job.done, "mode": job.mode, "full_id_numbers": full_ids},
    )
    return job.result.open("rb")


def job_progress(job: DossierJob) -> dict:
    finished = job.done + job.failed
    percent = int(finished * 100 / job.total) if job.total else 100
    return {
        "state": job.state,
        "state_display": str(job.get_state_display()),
        "done": job.done,
        "failed": job.failed,
        "total": job.total,
        "percent": percent,
    }


def job_failures(job: DossierJob):
    return (
        job.items.filter(state=DossierJobItem.State.FAILED)
        .select_related("household__village")
        .order_by("household__registration_no")
    )


def recent_jobs(user, limit: int = 20):
    return list(jobs_scoped(user)[:limit])
