"""A dossier batch printed by a real Celery worker (a subprocess on a queue of its own, Redis as
broker) against the test database: a household printed before the worker came (as by a worker
killed mid-batch) is not printed again, the others are, and the ZIP holds one PDF each."""

import io
import time
import zipfile

import pytest

from archives.models import DossierJob, DossierJobItem
from archives.services import batch
from tests.celery_worker import new_queue, start_worker_fixture  # noqa: F401
from tests.factories import HouseholdFactory

WAIT_SECONDS = 90

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_worker_prints_a_small_batch_end_to_end(world, settings, start_worker):
    queue = new_queue("test-dossiers")
    settings.DOSSIER_QUEUE = queue
    households = [HouseholdFactory(village=world.v1a) for _ in range(3)]

    # Queued (the message waits in Redis); one household printed by a run that then died.
    job = batch.dossier_job_start(acting_user=world.admin, unit=world.v1a, mode="zip")
    assert batch.item_print_next(job.pk)
    first = DossierJobItem.objects.get(job=job, state=DossierJobItem.State.DONE)
    first_file = first.file.name

    worker = start_worker(queue)
    deadline = time.monotonic() + WAIT_SECONDS
    while DossierJob.objects.values_list("state", flat=True).get(pk=job.pk) != DossierJob.State.DONE:
        worker.check_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out waiting for the batch. Worker log:\n{worker.log()}")
        time.sleep(0.1)

    job.refresh_from_db()
    assert (job.done, job.failed, job.total) == (3, 0, 3)
    assert DossierJobItem.objects.filter(job=job).count() == 3
    first.refresh_from_db()
    assert first.file.name == first_file  # not printed twice
    with job.result.open("rb") as fh:
        names = zipfile.ZipFile(io.BytesIO(fh.read())).namelist()
    assert sorted(n.split("_")[0] for n in names) == sorted(h.registration_no for h in households)
