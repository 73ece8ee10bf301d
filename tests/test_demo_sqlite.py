"""`make run` seeds the demo on the embedded SQLite database: the quick start must work there as it
does on PostgreSQL, the risk fund's claims and recoveries included (SQLite adds decimals in
floating point, which once broke a check constraint there). Runs in a process of its own
(tests/demo_sqlite.py); the day is fixed, a Saturday, so the run does not depend on the day."""

import json
import subprocess
import sys

from django.conf import settings


def test_the_demo_seeds_on_sqlite_with_the_fund_and_a_second_run_adds_nothing(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tests.demo_sqlite", str(tmp_path / "demo.sqlite3"), "2026-12-05"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    made = json.loads(result.stdout.strip().splitlines()[-1])
    assert made["vendor"] == "sqlite"
    assert made["applications"] > 0 and made["loans"] > 0
    # Claims in every state the demo tells, each split exactly, and recoveries on the paid one.
    assert set(made["claims"]) == {"filed", "reviewed", "approved", "rejected", "paid"}
    assert made["splits_exact"] is True
    assert made["recoveries"] == 3
    assert float(made["balance"]) > 0
