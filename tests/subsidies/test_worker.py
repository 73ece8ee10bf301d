"""A batch computed by real Celery workers (subprocesses on a queue of their own, Redis as broker)
against the test database, including a worker killed with SIGKILL in the middle of a chunk: the
batch finishes with exactly the lines and totals of an uninterrupted run (DOMAIN §6)."""

import time

import psycopg
import pytest
from django.db import connection
from django.db.models import Count

from subsidies import services
from subsidies.models import BatchChunk, SubsidyBatch, SubsidyLine
from subsidies.tasks import compute_chunk
from subsidies.workflow import State
from tests.celery_worker import database_url, new_queue, start_worker_fixture  # noqa: F401

from .conftest import QUARTER_TOTAL, snapshot, totals

WAIT_SECONDS = 60

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("after_q3"),
]


def wait_for(condition, what: str, worker) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        worker.check_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"Timed out waiting for {what}. Worker log:\n{worker.log()}")
        time.sleep(0.05)


def state_of(batch) -> str:
    return SubsidyBatch.objects.values_list("state", flat=True).get(pk=batch.pk)


def done_chunks(batch) -> list[int]:
    return list(
        BatchChunk.objects.filter(batch=batch, done=True).order_by("seq").values_list("seq", flat=True)
    )


def test_killed_worker_leaves_no_gap_and_no_duplicate(world, settings, quarter, start_worker):
    queue = new_queue("test-subsidies")
    settings.SUBSIDY_QUEUE = queue
    settings.SUBSIDY_CHUNK_LOANS = 2  # county A's 8 loans: 4 chunks of 2

    # An uninterrupted run, for reference.
    worker = start_worker(queue)
    batch = services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    services.batch_compute(acting_user=world.finance, batch=batch)
    wait_for(lambda: state_of(batch) == State.COMPUTED, "the first run", worker)
    reference_lines, reference_totals = snapshot(batch), totals(batch)
    assert reference_totals == (QUARTER_TOTAL, 8, 4, 8, 8)
    worker.stop()
    # Cancelling lets go of its settlements, so a new batch of the quarter takes them again.
    services.batch_cancel(acting_user=world.finance, batch=batch, reason="重算以核对")

    # The same quarter again. No worker consumes the queue yet: the four tasks wait in Redis.
    batch = services.batch_create(acting_user=world.finance, county=world.county, year=2025, quarter=3)
    services.batch_compute(acting_user=world.finance, batch=batch)
    chunks = list(BatchChunk.objects.filter(batch=batch).order_by("seq"))
    assert [chunk.loans for chunk in chunks] == [2, 2, 2, 2]

    with psycopg.connect(database_url()) as locker:
        # Hold the third chunk's row, so the worker computes the first two and then waits inside the
        # third chunk's transaction, having locked the batch and written nothing of it yet.
        locker.execute("SELECT id FROM subsidies_batchchunk WHERE id = %s FOR UPDATE", [chunks[2].pk])
        # Busy from the start, it answers no ping: watch its work instead.
        victim = start_worker(queue, wait=False)

        def victim_waits_on_the_lock() -> bool:
            # Asked on the test's own connection: within the locker's transaction
            # pg_stat_activity would stay the snapshot of its first reading.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                    [locker.info.backend_pid],
                )
                return cursor.fetchone()[0] == 1

        wait_for(victim_waits_on_the_lock, "the worker to reach the third chunk", victim)
        assert done_chunks(batch) == [0, 1]
        victim.kill()
        locker.rollback()

    # Half the loans done, the rest waiting: no line of the third chunk slipped in.
    assert state_of(batch) == State.COMPUTING
    assert totals(batch)[3:] == (4, 8)
    assert done_chunks(batch) == [0, 1]
    assert not SubsidyLine.objects.filter(batch=batch, loan_id__gte=chunks[2].lo).exists()

    # Resuming queues the third and fourth chunks again, behind the fourth's first task, still
    # queued: a new worker computes the third once and the fourth once, delivered twice.
    assert services.batch_resume(acting_user=world.finance, batch=batch) == 2
    worker = start_worker(queue)
    wait_for(lambda: state_of(batch) == State.COMPUTED, "the resumed run", worker)

    assert snapshot(batch) == reference_lines
    assert totals(batch) == reference_totals
    duplicates = (
        SubsidyLine.objects.filter(batch=batch)
        .values("loan_id", "settlement_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()
    assert done_chunks(batch) == [0, 1, 2, 3]
    assert sum(BatchChunk.objects.filter(batch=batch).values_list("line_count", flat=True)) == 8
    assert SubsidyLine.objects.filter(claimed=True).exclude(batch=batch).count() == 0

    # A task delivered once more, to the worker, for a chunk already done: nothing changes.
    lines = list(SubsidyLine.objects.filter(batch=batch).order_by("pk").values())
    chunk_rows = list(BatchChunk.objects.filter(batch=batch).order_by("seq").values())
    result = compute_chunk.apply_async(args=[chunks[0].pk], queue=queue)
    try:
        assert result.get(timeout=WAIT_SECONDS) is False
    finally:
        result.forget()
    assert list(SubsidyLine.objects.filter(batch=batch).order_by("pk").values()) == lines
    assert list(BatchChunk.objects.filter(batch=batch).order_by("seq").values()) == chunk_rows
    assert totals(batch) == reference_totals
