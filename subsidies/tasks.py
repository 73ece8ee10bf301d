import datetime

from celery import shared_task
from django.db import IntegrityError, OperationalError

from . import services


@shared_task(
    name="subsidies.compute_chunk",
    autoretry_for=(OperationalError, IntegrityError),
    retry_backoff=2,
    max_retries=8,
    # A worker process killed mid-chunk gives the message back at once (its transaction rolled
    # back); the chunk is safe to run again.
    acks_late=True,
    reject_on_worker_lost=True,
)
def compute_chunk(chunk_id: int) -> bool:
    """One chunk of a batch, then the batch's progress (and its end when this was the last chunk).
    Safe to run twice: a done chunk is skipped. Retried on a lost connection or a deadlock, and on
    the rare clash with another batch claiming the same settlement (the retry sees it claimed)."""
    computed = services.chunk_compute(chunk_id=chunk_id)
    batch_id = services.batch_of_chunk(chunk_id)
    if batch_id is not None:
        services.batch_finish_if_done(batch_id=batch_id)
    return computed


@shared_task(name="subsidies.ensure_quarterly_batches")
def ensure_quarterly_batches(on_date: str | None = None) -> list[int]:
    day = datetime.date.fromisoformat(on_date) if on_date else None
    return services.quarterly_batches_ensure(on_date=day)


@shared_task(name="subsidies.resume_stalled")
def resume_stalled() -> list[int]:
    return services.batches_resume_stalled()
