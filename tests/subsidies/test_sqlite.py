"""The embedded SQLite of `make run` computes the subsidy to the fen exactly as PostgreSQL does
(decimal arithmetic, half-up), so the demo shows the figures production would. SQLite multiplies
in floating point, where 50000 × 4.35 × 20 × 0.75 ÷ 36000 = 90.625 is 90.62499… and ROUND gives
90.62; the batch must say 90.63.

The test process is bound to PostgreSQL, so the batch runs in a process of its own on a scratch
SQLite file (tests/subsidies/sqlite_batch.py), through the same services and the same SQL."""

import json
import subprocess
import sys

from django.conf import settings


def test_sqlite_batch_rounds_half_up_to_the_fen(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "tests.subsidies.sqlite_batch", str(tmp_path / "demo.sqlite3")],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    batch = json.loads(result.stdout.strip().splitlines()[-1])
    assert (batch["vendor"], batch["state"]) == ("sqlite", "computed")
    assert batch["lines"] == {
        # min(121.00 × 0.75 = 90.75, 50000 × 4.35 × 20 ÷ 36000 × 0.75 = 90.625 → 90.63)
        "JX-1": ["50000.00", "90.63", ""],
        # min(100.06, 10000 × 4.35 × 92 ÷ 36000 = 111.1666…) × 0.75 = 75.045 → 75.05
        "JX-2": ["10000.00", "75.05", ""],
        # min(333.50 × 0.75 = 250.125 → 250.13, 29999.99 × 4.35 × 92 ÷ 36000 × 0.75 = 250.1249… → 250.12)
        "JX-3": ["29999.99", "250.12", ""],
    }
    assert batch["total"] == "415.80"  # 90.63 + 75.05 + 250.12
