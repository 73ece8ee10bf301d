"""The embedded default (config.settings.local, SQLite) under a burst of requests: 50 loan
officers' clicks on "disburse" for one approved application arrive at the same moment at a
real multi-threaded server. As on PostgreSQL, exactly one makes the loan and every other one is
refused with 409; none may fail with 500 "database is locked".

The server runs in a subprocess on a temporary SQLite file: it migrates, builds one approved
application through the real services, writes what the test needs (the application's id, a
logged-in session) to a JSON file and then serves it with gunicorn (threaded workers). The
subprocess runs on the suite's pinned clock too, so the data and the server agree on today."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

REQUESTS = 50
BASE_DIR = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 60
# Two processes with 25 threads each: requests compete for the file both within a process and
# across processes, as under gunicorn in production.
WORKERS, THREADS = 2, 25


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(workdir: str, port: int) -> None:
    """Runs in the subprocess: migrate, build one approved application, then serve."""
    import datetime
    from decimal import Decimal

    import django
    import time_machine

    django.setup()
    from tests.conftest import PINNED_TODAY, moment

    time_machine.travel(moment(PINNED_TODAY), tick=True).start()

    from django.core.management import call_command
    from django.db import connections
    from django.test import Client
    from django.utils import timezone

    from households.models import CreditRating
    from loans.models import LoanApplication, PublicityNotice
    from loans.services import applications
    from loans.workflow import State
    from tests.conftest import World
    from tests.factories import CreditRatingFactory, HouseholdFactory, application_create

    call_command("migrate", verbosity=0, interactive=False)
    world = World()
    household = HouseholdFactory(village=world.v1a, head__age=40)
    today = timezone.localdate()
    CreditRatingFactory(
        household=household,
        profile=world.profile,
        branch=world.br1,
        rated_by=world.officer,
        grade=CreditRating.Grade.AAA,
        credit_limit=Decimal("50000.00"),
        valid_from=today - datetime.timedelta(days=30),
        valid_to=today + datetime.timedelta(days=300),
    )
    app = application_create(acting_user=world.cadre, household=household)
    app = applications.application_submit(acting_user=world.cadre, application=app)
    app = applications.application_village_approve(acting_user=world.cadre, application=app)
    last = max(n.end_on for n in app.notices.filter(status=PublicityNotice.Status.RUNNING))
    applications.publicity_end_due(on_date=last + datetime.timedelta(days=1))
    app = LoanApplication.objects.get(pk=app.pk)
    app = applications.application_accept(acting_user=world.officer, application=app, findings="实地查看")
    app = applications.application_approve(acting_user=world.approver, application=app)
    assert app.state == State.APPROVED, app.state

    client = Client()
    client.force_login(world.officer)
    ready = {
        "application": app.pk,
        "sessionid": client.cookies["sessionid"].value,
    }
    # The workers fork from this process: none may inherit an open SQLite connection.
    connections.close_all()
    Path(workdir, "ready.json.tmp").write_text(json.dumps(ready))
    Path(workdir, "ready.json.tmp").rename(Path(workdir, "ready.json"))
    from gunicorn.app.wsgiapp import run

    sys.argv = [
        "gunicorn",
        "config.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={WORKERS}",
        f"--threads={THREADS}",
        "--worker-class=gthread",
        "--timeout=120",
        "--log-level=warning",
    ]
    run()


def _start_server(workdir: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_MEDIA_ROOT": str(workdir / "media"),
        "PYTHONUNBUFFERED": "1",
    }
    code = f"from tests.security.test_sqlite_concurrency import serve; serve({str(workdir)!r}, {port})"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        stdout=open(workdir / "server.log", "wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen) -> None:
    """Stops the server and anything it started (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_serving(process: subprocess.Popen, workdir: Path, port: int) -> dict:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    ready = workdir / "ready.json"
    while True:
        log = (workdir / "server.log").read_text(errors="replace")
        assert process.poll() is None, f"the server stopped:\n{log}"
        assert time.monotonic() < deadline, f"the server did not start in {STARTUP_TIMEOUT} s:\n{log}"
        if ready.exists():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return json.loads(ready.read_text())
            except OSError:
                pass
        time.sleep(0.1)


def _disburse_all_at_once(port: int, application: int, sessionid: str) -> list[tuple[int, dict]]:
    csrf = "a" * 32  # the CSRF secret the cookie and the header both carry
    url = f"http://127.0.0.1:{port}/api/v1/applications/{application}/transitions/disburse/"
    barrier = threading.Barrier(REQUESTS, timeout=30)
    answers: list = [None] * REQUESTS

    def click(i: int) -> None:
        body = json.dumps({"contract_no": f"HT-{i:03d}", "receipt_no": f"JJ-{i:03d}"}).encode()
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept-Language": "zh-hans",
                "Cookie": f"sessionid={sessionid}; csrftoken={csrf}",
                "X-CSRFToken": csrf,
            },
        )
        barrier.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answers[i] = (response.status, json.loads(response.read() or b"{}"))
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                answers[i] = (error.code, json.loads(text))
            except ValueError:
                answers[i] = (error.code, {"body": text[:300]})
        except Exception as error:  # a dropped connection is an answer too, and a wrong one
            answers[i] = (0, {"error": repr(error)})

    threads = [threading.Thread(target=click, args=(i,)) for i in range(REQUESTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    return answers


def test_fifty_simultaneous_disbursements_on_sqlite_make_one_loan_and_409s(tmp_path):
    port = _free_port()
    process = _start_server(tmp_path, port)
    try:
        ready = _wait_until_serving(process, tmp_path, port)
        answers = _disburse_all_at_once(port, ready["application"], ready["sessionid"])
    finally:
        _stop(process)

    statuses = Counter(status for status, _ in answers)
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert statuses == {200: 1, 409: REQUESTS - 1}, f"{dict(statuses)}: {answers}\n{log[-3000:]}"
    refusals = [body for status, body in answers if status == 409]
    assert {body["code"] for body in refusals} == {"transition_not_allowed"}, refusals
    winner = next(body for status, body in answers if status == 200)
    assert winner["state"] == "disbursed" and winner["loan"], winner

    # Exactly one loan in the file the server wrote, with the winner's numbers.
    import sqlite3

    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        loans = db.execute("SELECT contract_no FROM loans_loan").fetchall()
    assert len(loans) == 1, loans
