"""Celery workers for a benchmark: started as real `celery worker` processes on a queue of the
run's own, pointed at the benchmark's scratch database, and stopped with each one's peak memory.
Shared by the benchmarks that time work done by workers (`make bench` skips files starting with _)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _die_with_parent() -> None:
    """A worker must not outlive the benchmark, even when the benchmark is killed."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start(count: int, *, queue: str, database_url: str, logdir: str) -> list[tuple[str, subprocess.Popen]]:
    """`count` solo workers on `queue` (also exported as SUBSIDY_QUEUE, which the task routes read)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TEST_DATABASE_URL": database_url,
        "SUBSIDY_QUEUE": queue,
    }
    workers = []
    for n in range(1, count + 1):
        name = f"{queue}-{n}@bench"
        log = open(Path(logdir) / f"worker{n}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "--pool=solo", "--concurrency=1"]
            + ["-Q", queue, "-n", name, "--without-gossip", "--without-mingle", "-l", "warning"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        workers.append((name, proc))
    return workers


def wait_ready(workers, timeout: float = 120) -> None:
    from config.celery import app

    names = {name for name, _ in workers}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in workers:
            if proc.poll() is not None:
                raise SystemExit(f"worker {name} exited with {proc.returncode} while starting")
        replies = app.control.ping(destination=sorted(names), timeout=1.0) or []
        if names <= {key for reply in replies for key in reply}:
            return
    raise SystemExit("the Celery workers did not answer within two minutes")


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def stop(workers) -> list[float]:
    """Read each worker's peak RSS, then stop it: a warm shutdown, killed after 30 s."""
    peaks = []
    for _name, proc in workers:
        try:
            peaks.append(peak_mb(proc.pid) if proc.poll() is None else float("nan"))
        except OSError:
            peaks.append(float("nan"))
        if proc.poll() is None:
            proc.terminate()
    for _name, proc in workers:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return peaks


def delete_queue(queue: str) -> None:
    """The run's queue and its bindings (the name has this run's pid in it: nobody else's)."""
    from config.celery import app

    with contextlib.suppress(Exception), app.connection_for_write() as conn:
        client = conn.default_channel.client
        client.delete(queue, *client.scan_iter(match=f"_kombu.binding*.{queue}"))
