"""Seeds the demo county on the embedded SQLite database of `make run` and prints what it made as
JSON: run by test_demo_sqlite.py in a process of its own (the test process is bound to
PostgreSQL). The clock is set to the day given, so the run does not depend on the day it runs.
Usage: python -m tests.demo_sqlite /path/to/db.sqlite3 YYYY-MM-DD"""

import datetime
import json
import os
import sys
from collections import Counter
from io import StringIO
from zoneinfo import ZoneInfo


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DATABASE_URL"] = f"sqlite:///{sys.argv[1]}"
    day = datetime.date.fromisoformat(sys.argv[2])
    import django

    django.setup()
    import time_machine
    from django.core.management import call_command

    with time_machine.travel(datetime.datetime.combine(day, datetime.time(10), ZoneInfo("Asia/Shanghai"))):
        call_command("migrate", verbosity=0)
        call_command("seed_demo", stdout=StringIO())
        call_command("seed_demo", stdout=StringIO())  # a second run adds nothing
    from django.db import connection

    from loans.models import Loan, LoanApplication
    from riskfund.models import CompensationClaim, Recovery, RiskFund
    from riskfund.services import ledger

    fund = RiskFund.objects.get()
    print(
        json.dumps(
            {
                "vendor": connection.vendor,
                "applications": LoanApplication.objects.count(),
                "loans": Loan.objects.count(),
                "claims": dict(Counter(CompensationClaim.objects.values_list("state", flat=True))),
                "recoveries": Recovery.objects.count(),
                "balance": str(ledger.balance(fund)),
                "splits_exact": all(
                    c.fund_share + c.bank_share == c.loss for c in CompensationClaim.objects.all()
                ),
            }
        )
    )


if __name__ == "__main__":
    main()
