from celery import shared_task
from django.db import OperationalError

from .services import batch


@shared_task(
    name="archives.print_dossiers",
    autoretry_for=(OperationalError,),
    retry_backoff=2,
    max_retries=8,
    # A worker killed mid-batch gives the message back: the next run takes only the items still
    # pending (the one being printed rolled back with its transaction).
    acks_late=True,
    reject_on_worker_lost=True,
)
def print_dossiers(job_id: int) -> int:
    return batch.job_run(job_id)


@shared_task(name="archives.resume_stalled_dossiers")
def resume_stalled_dossiers() -> list[int]:
    return batch.jobs_resume_stalled()
