"""How long `GET /api/v1/loans/{id}/` takes for a loan with a short and a long history.

Runs on PostgreSQL with the test settings: it creates a scratch database (`test_fupin_bench` on
the server of TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/fupin_bench), builds
two loans, one with 1 settlement and one with N (and as many repayments), times the API detail
through DRF's APIClient (warm-up, then the median of --requests requests each, interleaved) and
drops the database again. The figures come last, one per line:

    loan_detail_1_ms: X ms
    loan_detail_N_ms: Y ms
    loan_detail_ratio: Z        (goal ≤ 1.2)

Usage: .venv/bin/python bench/loan_detail.py [--settlements 700] [--requests 30]
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fupin_bench")
    import django

    django.setup()


def _build(settlements: int):
    from accounts.models import Role
    from loans.models import Loan, Repayment, Settlement
    from tests.factories import (
        BankFactory,
        BranchFactory,
        CountyFactory,
        HouseholdFactory,
        TownshipFactory,
        UserFactory,
        VillageFactory,
    )

    county = CountyFactory(name="基准县", code="459999")
    township = TownshipFactory(parent=county, name="基准镇", code="459999101")
    village = VillageFactory(parent=township, name="基准村", code="459999101201")
    branch = BranchFactory(parent=BankFactory(name="基准银行", code="BB01"), name="基准支行", code="BB01-01")
    branch.served_townships.set([township])
    user = UserFactory(username="bench-officer", unit=branch, roles=[Role.LOAN_OFFICER])

    def loan(n: int, history: int) -> Loan:
        household = HouseholdFactory(village=village)
        loan = Loan.objects.create(
            household=household,
            borrower=household.members.get(is_head=True),
            branch=branch,
            contract_no=f"BENCH-{n}",
            receipt_no=f"BENCH-J-{n}",
            amount=Decimal("50000.00"),
            rate=Decimal("4.35"),
            rate_basis="benchmark",
            term_months=36,
            disbursed_on=datetime.date(2021, 1, 1),
            maturity_on=datetime.date(2024, 1, 1),
            use_mode="self",
            purpose_category="breeding",
            outstanding=Decimal("50000.00"),
        )
        start = datetime.date(1990, 1, 1)
        days = [start + datetime.timedelta(days=i) for i in range(history)]
        Settlement.objects.bulk_create(
            Settlement(
                loan=loan,
                period_start=day,
                period_end=day,
                principal=loan.amount,
                rate=loan.rate,
                interest_due=Decimal("6.04"),
                interest_paid=Decimal("6.04"),
                paid_on=day,
                source=Settlement.Source.IMPORT,
                recorded_by=user,
            )
            for day in days
        )
        Repayment.objects.bulk_create(
            Repayment(
                loan=loan,
                paid_on=day,
                principal=Decimal("1.00"),
                outstanding_after=Decimal("1.00"),
                recorded_by=user,
            )
            for day in days
        )
        return loan

    return user, loan(1, 1), loan(2, settlements)


def _time(client, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.content[:200]!r}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--settlements", type=int, default=700, help="settlements of the long loan (700)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per loan (30)")
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()

    _setup()
    from django.db import connection
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    print(f"database: PostgreSQL, scratch database created from {old_name!r} settings", flush=True)
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        user, short, long_ = _build(args.settlements)
        client = APIClient()
        client.force_authenticate(user)
        urls = {1: f"/api/v1/loans/{short.pk}/", args.settlements: f"/api/v1/loans/{long_.pk}/"}
        for _ in range(args.warmup):
            for url in urls.values():
                _time(client, url)
        samples = {n: [] for n in urls}
        for _ in range(args.requests):
            for n, url in urls.items():
                samples[n].append(_time(client, url))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)

    short_ms = statistics.median(samples[1])
    long_ms = statistics.median(samples[args.settlements])
    print(
        f"sizes: 1 and {args.settlements} settlements (and as many repayments), {args.requests} requests each"
    )
    print(f"loan_detail_1_ms: {short_ms:.2f} ms")
    print(f"loan_detail_N_ms: {long_ms:.2f} ms")
    print(f"loan_detail_ratio: {long_ms / short_ms:.2f}")


if __name__ == "__main__":
    main()
