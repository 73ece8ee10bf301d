"""How long the dossier of one household takes to print, and a batch of a village's households
printed by real Celery workers.

Runs on PostgreSQL with the test settings, on a scratch database (`test_fupin_dossier_bench` on
the server of TEST_DATABASE_URL), created, migrated and dropped by the run. It makes one county,
township and village, and N households like a typical file: four members, a rating, two loans,
four uploaded photos (JPEG, 1600×1200) and a 3-page uploaded credit report — about ten pages.

- one dossier: `archives.dossier.dossier_pdf` for one household, after one warm-up (fonts and
  templates loaded), the median of 5 runs;
- the batch: `--workers` `celery worker --pool=solo` processes on a queue of this run's own, timed
  from `dossier_job_start` until the job is done (polled every 0.1 s); each worker's peak memory
  (VmHWM) is read just before it stops.

Sizes first, figures last, one per line:

    dossier_s: X s                 (goal < 1.5 s)
    dossier_pages_per_s: Y pages/s
    dossier_batch_s: Z s
    dossier_worker1_peak_mb: A MB  (goal: flat as the batch grows)
    dossier_worker2_peak_mb: B MB

Usage: .venv/bin/python bench/dossier.py [--households 100] [--workers 2] [--keep]
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _celery_workers as celery_workers  # bench/ is the script's own directory, first on sys.path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "test_fupin_dossier_bench"
QUEUE = f"dossier-bench-{os.getpid()}"


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ.setdefault("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fupin_dossier_bench")
    import django

    django.setup()
    import logging

    # WeasyPrint logs every layout step at INFO under the test settings' logging.
    for name in ("weasyprint", "weasyprint.progress", "fontTools"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _jpeg(seed: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1600, 1200), (200 + seed % 50, 180, 160))
    draw = ImageDraw.Draw(image)
    for i in range(0, 1600, 40):
        draw.line([(i, 0), (1600 - i, 1200)], fill=((i * 7 + seed) % 255, (i * 3) % 255, 90), width=6)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _pdf(pages: int) -> bytes:
    from django.conf import settings  # noqa: F401
    from weasyprint import HTML

    body = "".join(
        f"<section style='page-break-after: always'><h1>征信报告 第{n + 1}页</h1></section>"
        for n in range(pages)
    )
    return HTML(string=f"<html><body>{body}</body></html>").write_pdf()


def _generate(households: int):
    from django.core.files.base import ContentFile

    from accounts.models import Role
    from archives.models import ArchiveDocument, Item
    from tests.factories import (
        BankFactory,
        BranchFactory,
        CountyFactory,
        CreditRatingFactory,
        HouseholdFactory,
        LoanFactory,
        MemberFactory,
        PolicyProfileFactory,
        TownshipFactory,
        UserFactory,
        VillageFactory,
    )

    county = CountyFactory(name="临桂区", code="450312")
    township = TownshipFactory(parent=county, name="五通镇", code="450312101")
    village = VillageFactory(parent=township, name="五通村", code="450312101201")
    bank = BankFactory(name="临桂农商银行", code="B001")
    branch = BranchFactory(parent=bank, name="五通支行", code="B001-01")
    branch.served_townships.add(township)
    profile = PolicyProfileFactory(county=county)
    admin = UserFactory(username="bench-admin", unit=county, roles=[Role.ADMIN])
    photos = [_jpeg(n) for n in range(4)]
    report = _pdf(3)
    made = []
    for _ in range(households):
        household = HouseholdFactory(village=village)
        for relation in ("spouse", "child", "parent"):
            MemberFactory(household=household, relation=relation)
        CreditRatingFactory(household=household, profile=profile, branch=branch, rated_by=admin)
        for _loan in range(2):
            LoanFactory(household=household, branch=branch)
        for n, item in enumerate((Item.ID_CARD, Item.HOUSEHOLD_REGISTER, Item.MARITAL_PROOF, Item.OTHER)):
            doc = ArchiveDocument(
                household=household,
                item=item,
                original_name=f"photo{n}.jpg",
                content_type="image/jpeg",
                size=len(photos[n]),
                uploaded_by=admin,
            )
            doc.file.save("x", ContentFile(photos[n]), save=False)
            doc.save()
        doc = ArchiveDocument(
            household=household,
            item=Item.CREDIT_REPORT,
            original_name="credit.pdf",
            content_type="application/pdf",
            size=len(report),
            pages=3,
            uploaded_by=admin,
        )
        doc.file.save("x", ContentFile(report), save=False)
        doc.save()
        made.append(household)
    return village, admin, made


def _one(household, admin) -> tuple[float, int]:
    from archives.dossier import dossier_pdf

    dossier_pdf(household, user=admin)  # warm-up
    times, pages = [], 0
    for _ in range(5):
        start = time.perf_counter()
        pages = dossier_pdf(household, user=admin).pages
        times.append(time.perf_counter() - start)
    return statistics.median(times), pages


def _batch(village, admin, timeout: float) -> tuple[object, float]:
    from django.db import transaction

    from archives.models import DossierJob
    from archives.services import batch

    start = time.perf_counter()
    with transaction.atomic():
        job = batch.dossier_job_start(acting_user=admin, unit=village, mode=DossierJob.Mode.ZIP)
    while True:
        job.refresh_from_db()
        if job.state == DossierJob.State.DONE:
            return job, time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"the batch did not finish within {timeout:.0f} s ({job.done}/{job.total})")
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=100, help="households in the batch (100)")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (2)")
    parser.add_argument("--timeout", type=float, default=1800, help="give up on the batch after this (s)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    _setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    settings.DOSSIER_QUEUE = QUEUE
    setup_test_environment()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"sizes: {args.households} households, {args.workers} workers", flush=True)
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = SCRATCH_DB
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{SCRATCH_DB}"
    if db.get("PASSWORD"):
        database_url = database_url.replace("@", f":{db['PASSWORD']}@", 1)
    workers = []
    with tempfile.TemporaryDirectory(prefix="dossier-bench-") as logdir:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
        try:
            workers = celery_workers.start(
                args.workers, queue=QUEUE, database_url=database_url, logdir=logdir
            )
            start = time.perf_counter()
            village, admin, households = _generate(args.households)
            print(
                f"generated: {len(households)} households in {time.perf_counter() - start:.1f} s", flush=True
            )
            one_s, pages = _one(households[0], admin)
            print(f"typical dossier: {pages} pages", flush=True)
            celery_workers.wait_ready(workers)
            job, batch_s = _batch(village, admin, args.timeout)
            peaks = celery_workers.stop(workers)
            print(f"batch: {job.done} printed, {job.failed} failed of {job.total}", flush=True)
        except BaseException:
            for n, _ in enumerate(workers, 1):
                tail = (Path(logdir) / f"worker{n}.log").read_text()[-3000:]
                if tail.strip():
                    print(f"--- worker{n} log (end) ---\n{tail}", file=sys.stderr)
            raise
        finally:
            celery_workers.stop(workers)
            celery_workers.delete_queue(QUEUE)
            if args.keep:
                connection.close()
            else:
                connection.creation.destroy_test_db(old_name, verbosity=0)

    print(f"dossier_s: {one_s:.2f} s")
    print(f"dossier_pages_per_s: {pages / one_s:.1f} pages/s")
    print(f"dossier_batch_s: {batch_s:.1f} s")
    for n, peak in enumerate(peaks, 1):
        print(f"dossier_worker{n}_peak_mb: {peak:.0f} MB")
    if job.failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
