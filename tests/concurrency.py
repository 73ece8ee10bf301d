"""Two (or more) requests at the same moment, for real: each call runs in its own thread with its
own database connection (PostgreSQL), and the race is made certain rather than likely.

A barrier releases the threads together. Meanwhile the test holds the row lock the calls will all
ask for, waits until every thread is blocked on it inside its service — past every check made
before the lock, as two clicks in the same second would be — and only then lets go. The test must
be transactional (`django_db(transaction=True, serialized_rollback=True)`) so the threads see its
data."""

from __future__ import annotations

import threading
import time

from django.db import connection, connections, transaction

TIMEOUT = 30


def waiting_on_locks() -> int:
    """Backends of this test database that are blocked waiting for a lock right now."""
    with connection.cursor() as cursor:
        # pg_stat_activity is read once per transaction unless the snapshot is cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def run_together(row, *calls, timeout: float = TIMEOUT) -> list[tuple[str, object]]:
    """Runs each call in its own thread while this thread holds `row`'s lock (a model instance;
    only its class and pk are used), and answers, in order, ("ok", result) or ("error", exception)
    for each."""
    barrier = threading.Barrier(len(calls), timeout=timeout)
    outcomes: list = [None] * len(calls)

    def worker(i, call):
        try:
            barrier.wait()
            outcomes[i] = ("ok", call())
        except Exception as exc:
            outcomes[i] = ("error", exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    with transaction.atomic():
        type(row).objects.select_for_update().get(pk=row.pk)
        for t in threads:
            t.start()
        deadline = time.monotonic() + timeout
        while waiting_on_locks() < len(calls):
            assert time.monotonic() < deadline, "the threads never reached the row lock"
            time.sleep(0.02)
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a thread is stuck (deadlock?)"
    return outcomes
