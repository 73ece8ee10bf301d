"""Computes a small subsidy batch on the embedded SQLite database of `make run` and prints its
lines as JSON: run by test_sqlite.py in a process of its own (the test process is bound to
PostgreSQL). Usage: python -m tests.subsidies.sqlite_batch /path/to/db.sqlite3"""

import datetime
import json
import os
import sys
from decimal import Decimal

D = datetime.date


def main() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["DATABASE_URL"] = f"sqlite:///{sys.argv[1]}"
    import django

    django.setup()
    import time_machine
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from accounts.models import OrgUnit, Role, User
    from households.models import Household, Member
    from loans.models import Loan, Settlement
    from policies.models import PolicyProfile
    from subsidies import services
    from subsidies.models import BatchChunk, SubsidyLine

    with time_machine.travel(datetime.datetime(2025, 10, 10, 10, tzinfo=datetime.UTC)):
        county = OrgUnit.objects.create(kind="county", code="459901", name="甲县")
        township = OrgUnit.objects.create(kind="township", code="459901101", name="甲镇", parent=county)
        village = OrgUnit.objects.create(kind="village", code="459901101201", name="甲村", parent=township)
        bank = OrgUnit.objects.create(kind="bank", code="JB", name="甲银行")
        branch = OrgUnit.objects.create(kind="branch", code="JB-1", name="甲支行", parent=bank)
        finance = User.objects.create(username="finance", name="财政", unit=county)
        finance.roles.set(Role.objects.filter(code=Role.FINANCE))
        officer = User.objects.create(username="officer", name="信贷员", unit=branch)
        PolicyProfile.objects.create(
            county=county,
            name="甲县政策",
            effective_from=D(2015, 1, 1),
            source_text="test",
            subsidy_share=Decimal("0.75"),
        )
        lines = {}
        for n, (start, principal, due, paid) in enumerate(
            [
                # 20 days: 50000 × 4.35 × 20 ÷ 36000 × 0.75 = 90.625 exactly (90.62499… in floating point)
                (D(2025, 8, 31), "50000.00", "121.00", "121.00"),
                (D(2025, 6, 20), "10000.00", "111.17", "100.06"),
                (D(2025, 6, 20), "29999.99", "333.50", "333.50"),
            ],
            start=1,
        ):
            household = Household.objects.create(
                registration_no=f"JX{n:04d}", village=village, poverty_status="not_exited"
            )
            # The computation never reads the ID number: placeholder values fill the columns.
            member = Member.objects.create(
                household=household,
                name=f"户主{n}",
                relation="head",
                is_head=True,
                birth_date=D(1980, 1, 1),
                is_male=True,
                labour_capacity="full",
                id_number_encrypted="-",
                id_number_hash=f"sqlite-{n}",
                id_number_masked="4503**********000" + str(n),
            )
            loan = Loan.objects.create(
                household=household,
                borrower=member,
                branch=branch,
                contract_no=f"JX-{n}",
                receipt_no=f"JXR-{n}",
                account_no=f"6230{n:015d}",
                amount=Decimal(principal),
                rate=Decimal("4.3500"),
                rate_basis="benchmark",
                term_months=36,
                disbursed_on=start if start.day != 20 else D(2025, 3, 20),
                maturity_on=D(2028, 3, 20),
                use_mode="self",
                outstanding=Decimal(principal),
                imported=True,
            )
            Settlement.objects.create(
                loan=loan,
                period_start=start,
                period_end=D(2025, 9, 20),
                principal=Decimal(principal),
                rate=Decimal("4.3500"),
                interest_due=Decimal(due),
                interest_paid=Decimal(paid),
                paid_on=D(2025, 9, 20),
                source="manual",
                recorded_by=officer,
            )
            lines[loan.pk] = loan.contract_no
        batch = services.batch_create(acting_user=finance, county=county, year=2025, quarter=3)
        services.batch_compute(acting_user=finance, batch=batch)
        for chunk_id in BatchChunk.objects.filter(batch=batch, done=False).values_list("pk", flat=True):
            services.chunk_compute(chunk_id=chunk_id)
        services.batch_finish_if_done(batch_id=batch.pk)
        batch.refresh_from_db()
        result = {
            "vendor": django.db.connection.vendor,
            "state": batch.state,
            "total": str(batch.total),
            "lines": {
                lines[line.loan_id]: [str(line.subsidized_principal), str(line.subsidy), line.excluded_reason]
                for line in SubsidyLine.objects.filter(batch=batch)
            },
        }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
