"""Batch printing (issue 13): one item per household, a broken household reported without
stopping the batch, the ZIP and the combined PDF, a resume after a kill, and the scoping."""

import datetime
import io
import zipfile

import pytest
from django.http import Http404
from django.urls import reverse
from pypdf import PdfReader

from archives import dossier
from archives.models import DossierJob, DossierJobItem
from archives.services import batch
from core.models import AuditEvent
from tests.factories import HouseholdFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def village(world):
    households = [HouseholdFactory(village=world.v1a) for _ in range(3)]
    HouseholdFactory(village=world.v2a)  # another township's village
    return households


@pytest.fixture
def broken(monkeypatch):
    """Rendering raises for the households put in the returned set (a stand-in for data that
    breaks the template); every other household prints for real."""
    bad = set()
    real = dossier.dossier_pdf

    def render(household, *, user, **kwargs):
        if household.pk in bad:
            raise ValueError("template broke")
        return real(household, user=user, **kwargs)

    monkeypatch.setattr(dossier, "dossier_pdf", render)
    return bad


def test_start_creates_one_item_per_household_and_is_audited(world, village):
    job = batch.dossier_job_start(acting_user=world.township_officer, unit=world.v1a, mode="zip")
    assert job.total == 3 and job.state == DossierJob.State.QUEUED
    assert sorted(job.items.values_list("household_id", flat=True)) == sorted(h.pk for h in village)
    assert AuditEvent.objects.filter(action="dossier_batch.start", object_id=str(job.pk)).exists()


def test_scoping(world, village):
    # Out of the user's area: a 404, as if the unit did not exist.
    with pytest.raises(Http404):
        batch.dossier_job_start(acting_user=world.township_officer, unit=world.v2a, mode="zip")
    with pytest.raises(Http404):
        batch.dossier_job_start(acting_user=world.officer, unit=world.vz, mode="zip")
    job = batch.dossier_job_start(acting_user=world.admin, unit=world.t1, mode="zip")
    assert job.total == 3
    assert batch.jobs_scoped(world.admin).filter(pk=job.pk).exists()
    assert batch.jobs_scoped(world.officer).filter(pk=job.pk).exists()  # br1 serves t1
    assert not batch.jobs_scoped(world.other_cadre).filter(pk=job.pk).exists()


def test_batch_survives_one_broken_household_zip(world, village, broken):
    broken.add(village[1].pk)
    job = batch.dossier_job_start(acting_user=world.officer, unit=world.v1a, mode="zip")
    assert batch.job_run(job.pk) == 3
    job.refresh_from_db()
    assert (job.state, job.done, job.failed) == (DossierJob.State.DONE, 2, 1)
    failed = job.items.get(state=DossierJobItem.State.FAILED)
    assert failed.household_id == village[1].pk and "template broke" in failed.error
    with job.result.open("rb") as fh:
        archive = zipfile.ZipFile(io.BytesIO(fh.read()))
    names = archive.namelist()
    assert len(names) == 2
    for household in (village[0], village[2]):
        head = household.members.get(is_head=True).name
        (name,) = [n for n in names if n.startswith(household.registration_no)]
        assert head in name and name.endswith(".pdf")
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(archive.read(name))).pages)
        assert head in text


def test_a_failed_household_is_explained_in_chinese_not_by_its_exception(world, village, broken, client_as):
    broken.add(village[1].pk)
    job = batch.dossier_job_start(acting_user=world.officer, unit=world.v1a, mode="zip")
    batch.job_run(job.pk)
    html = client_as(world.officer).get(reverse("archives:batch_detail", args=[job.pk])).content.decode()
    assert "无法打印" in html and village[1].registration_no in html
    assert ">ValueError" not in html and 'title="ValueError: template broke"' in html


def test_combined_pdf_has_the_sum_of_pages(world, village):
    job = batch.dossier_job_start(acting_user=world.admin, unit=world.v1a, mode="combined")
    batch.job_run(job.pk)
    job.refresh_from_db()
    assert job.state == DossierJob.State.DONE and job.done == 3
    pages = sum(job.items.values_list("pages", flat=True))
    with job.result.open("rb") as fh:
        assert len(PdfReader(io.BytesIO(fh.read())).pages) == pages > 0
    # Each household's print is recorded as a batch print (DOMAIN §2: who printed whose file, how).
    prints = AuditEvent.objects.filter(action="archive.dossier_print")
    assert prints.count() == 3 and {e.data["via"] for e in prints} == {"batch"}


def test_resume_after_a_kill_prints_only_the_pending(world, village, monkeypatch):
    job = batch.dossier_job_start(acting_user=world.admin, unit=world.v1a, mode="zip")
    # A worker printed one household, then died.
    assert batch.item_print_next(job.pk)
    first = job.items.get(state=DossierJobItem.State.DONE)
    first_file = first.file.name
    calls = []
    real = dossier.dossier_pdf

    def render(household, *, user, **kwargs):
        calls.append(household.pk)
        return real(household, user=user, **kwargs)

    monkeypatch.setattr(dossier, "dossier_pdf", render)
    # The sweep queues it again (on commit, not run here); the task's run continues.
    assert batch.dossier_job_resume(acting_user=world.admin, job=job) == 2
    assert batch.job_run(job.pk) == 2
    assert sorted(calls) == sorted(h.pk for h in village if h.pk != first.household_id)
    job.refresh_from_db()
    assert (job.state, job.done, job.failed) == (DossierJob.State.DONE, 3, 0)
    assert job.items.count() == 3
    first.refresh_from_db()
    assert first.file.name == first_file
    # Running it once more takes nothing and builds nothing.
    assert batch.job_run(job.pk) == 0


def test_pages_progress_and_download(
    world, village, client_as, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(batch, "dispatch", sent.append)
    client = client_as(world.officer)
    assert client.get(reverse("archives:batch_list")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("archives:batch_list"), {"unit": world.v1a.pk, "mode": "combined"})
    job = DossierJob.objects.get()
    assert response.status_code == 302 and sent == [job.pk]
    page = client.get(reverse("archives:batch_detail", args=[job.pk]))
    assert page.status_code == 200 and "progress-card" in page.content.decode()
    assert client.get(reverse("archives:batch_progress", args=[job.pk])).json() == {
        "state": "queued",
        "state_display": str(DossierJob.State.QUEUED.label),
        "done": 0,
        "failed": 0,
        "total": 3,
        "percent": 0,
    }
    assert client.get(reverse("archives:batch_download", args=[job.pk])).status_code == 404  # not done yet
    batch.job_run(job.pk)
    assert client.get(reverse("archives:batch_progress", args=[job.pk])).json()["percent"] == 100
    download = client.get(reverse("archives:batch_download", args=[job.pk]))
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content).startswith(b"%PDF")
    # Out of the area: every page of the job is a 404.
    other = client_as(world.other_cadre)
    for name in ("batch_detail", "batch_progress", "batch_download"):
        assert other.get(reverse(f"archives:{name}", args=[job.pk])).status_code == 404
    assert other.post(reverse("archives:batch_resume", args=[job.pk])).status_code == 404


def test_full_ids_printed_for_one_user_are_not_downloaded_by_a_user_without_them(world, village, client_as):
    # The admin's batch prints full ID numbers; the township officer of the same area sees the job
    # but may not download it (masked numbers only for that role); the loan officer may.
    job = batch.dossier_job_start(acting_user=world.admin, unit=world.v1a, mode="zip")
    batch.job_run(job.pk)
    url = reverse("archives:batch_download", args=[job.pk])
    township = client_as(world.township_officer)
    page = township.get(reverse("archives:batch_detail", args=[job.pk]))
    assert page.status_code == 200 and url not in page.content.decode()
    assert township.get(url).status_code == 404
    assert client_as(world.officer).get(url).status_code == 200
    # A batch the township officer printed (masked numbers) is theirs to download.
    own = batch.dossier_job_start(acting_user=world.township_officer, unit=world.v1a, mode="zip")
    batch.job_run(own.pk)
    assert township.get(reverse("archives:batch_download", args=[own.pk])).status_code == 200


def test_the_sweep_queues_a_stalled_job_again(
    world, village, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(batch, "dispatch", sent.append)
    job = batch.dossier_job_start(acting_user=world.admin, unit=world.v1a, mode="zip")
    fresh = batch.dossier_job_start(acting_user=world.admin, unit=world.v1b, mode="zip")
    DossierJob.objects.filter(pk=job.pk).update(created_at=job.created_at - datetime.timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert batch.jobs_resume_stalled() == [job.pk]
    assert sent == [job.pk] and fresh.pk not in sent


def test_the_menu_leads_bank_and_county_staff_to_batch_printing(world, client_as):
    def links(user):
        return {item.href for item in client_as(user).get("/").context["nav_items"]}

    batches = reverse("archives:batch_list")
    for user in (world.officer, world.approver, world.county_office, world.township_officer, world.admin):
        assert batches in links(user), user.username
    assert batches not in links(world.cadre)
    assert batches not in links(world.finance)


def test_a_download_is_audited_and_a_refused_one_is_not(world, village, client_as):
    from core.models import AuditEvent

    job = batch.dossier_job_start(acting_user=world.admin, unit=world.v1a, mode="zip")
    batch.job_run(job.pk)
    url = reverse("archives:batch_download", args=[job.pk])
    assert client_as(world.township_officer).get(url).status_code == 404
    assert not AuditEvent.objects.filter(action="dossier_batch.download").exists()
    assert client_as(world.officer).get(url).status_code == 200
    event = AuditEvent.objects.get(action="dossier_batch.download")
    assert event.actor == world.officer and event.object_id == str(job.pk)
    assert event.data == {"households": job.total, "mode": "zip", "full_id_numbers": True}
