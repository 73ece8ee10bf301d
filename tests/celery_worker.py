"""A real Celery worker for the tests that exercise a task end to end: a subprocess consuming
only a queue of its own, with Redis as broker and result backend, against the test database.

Its connection is its own, so a test that uses it must commit its data: mark it
`@pytest.mark.django_db(transaction=True, serialized_rollback=True)`. A test module or conftest
uses the fixtures by importing both (`from tests.celery_worker import start_worker_fixture,
worker_queue_fixture  # noqa: F401`); they are registered under the names `start_worker` and
`worker_queue`, so a test's arguments do not shadow the imports."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app

WORKER_START_SECONDS = 60
WORKER_STOP_SECONDS = 20


def database_url() -> str:
    """The URL of the database this test runs on (pytest-django's test database, already named
    test_…), so the worker uses it as it is instead of deriving another name."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or "5432"
    return f"postgres://{auth}@{host}:{port}/{quote(db['NAME'], safe='')}"


def new_queue(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Worker:
    """One worker process (solo pool: one task at a time, in the process itself, so killing the
    process kills the task mid-way)."""

    def __init__(self, queue: str, log_path: Path):
        self.queue = queue
        self.node = f"{queue}-{uuid.uuid4().hex[:6]}@localhost"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, *, wait: bool = True) -> Worker:
        """Start the process and, unless `wait` is false, wait until it answers a ping, so a task
        sent afterwards is taken. A solo worker answers pings only between tasks: one started on a
        queue that already holds tasks may be too busy to answer, and the test watches for the
        effect of its work instead."""
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "TEST_DATABASE_URL": database_url(),
        }
        # The worker runs on the test's (pinned) clock: tests/pinned_celery.py.
        now = datetime.datetime.now(datetime.UTC).isoformat()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.pinned_celery",
                    now,
                    "-A",
                    "config",
                    "worker",
                    "--pool=solo",
                    "--concurrency=1",
                    "-Q",
                    self.queue,
                    "-n",
                    self.node,
                    "-l",
                    "warning",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + WORKER_START_SECONDS
        while wait:
            if self.process.poll() is not None:
                pytest.fail(f"The Celery worker exited ({self.process.returncode}):\n{self.log()}")
            if celery_app.control.ping(destination=[self.node], timeout=1.0):
                return self
            if time.monotonic() > deadline:
                pytest.fail(f"The Celery worker did not answer in time:\n{self.log()}")
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"The Celery worker exited ({self.process.returncode}):\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, the task it runs dies with it, unacknowledged."""
        self.process.kill()
        self.process.wait(timeout=WORKER_STOP_SECONDS)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def delete_queue(queue: str) -> None:
    """Remove the queue, its bindings and any message a killed worker left unacknowledged from
    Redis, so nothing of the test is redelivered later (the Redis transport would restore an
    unacknowledged message to the queue after its visibility timeout)."""
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        # The channel deletes only the bindings it knows, so declare them on it first.
        bound = celery_app.amqp.queues[queue](channel)
        bound.declare()
        bound.delete()
        client = channel.client
        for tag, payload in client.hgetall(channel.unacked_key).items():
            _message, _exchange, routing_key = json.loads(payload)
            if routing_key == queue:
                client.hdel(channel.unacked_key, tag)
                client.zrem(channel.unacked_index_key, tag)


@pytest.fixture(name="start_worker")
def start_worker_fixture(tmp_path):
    """`start_worker(queue, wait=True)` starts a worker on `queue` and returns it (a `Worker`); the
    test may kill it or stop it. At teardown, before pytest-django empties the database, every worker still
    running is stopped and every queue used is removed."""
    workers: list[Worker] = []

    def start(queue: str, *, wait: bool = True) -> Worker:
        worker = Worker(queue, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        return worker.start(wait=wait)

    try:
        yield start
    finally:
        for worker in workers:
            worker.stop()
        for queue in {worker.queue for worker in workers}:
            delete_queue(queue)


@pytest.fixture(name="worker_queue")
def worker_queue_fixture(start_worker) -> str:
    """The name of a queue that a running worker consumes, and only it."""
    queue = new_queue()
    start_worker(queue)
    return queue
