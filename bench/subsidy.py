"""How long a quarter's interest-subsidy batch of one county takes through the real Celery path,
against one hand-written SQL statement that computes the same lines (the floor).

Runs on PostgreSQL with the test settings. It creates a scratch database (`test_fupin_subsidy_bench`
on the server of TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432), migrates it (which
seeds the rate table, the calendar and the roles), and generates with set-based SQL one county
(10 townships × 20 villages), N loans, their households (one in ten with a second loan, so the
household cap matters), heads of household, one interest settlement per loan for the last full
quarter (most paid, some unpaid, paid late, part paid or with penalty interest), loans disbursed
mid-period, loans whose 3-year support period ends mid-period or is over, renewals, loans with a
rate above the cap, loans with no settlement due, and a few blacklist entries.

Then, in the same run:

- the floor: one `CREATE UNLOGGED TABLE … AS` statement, written here by hand and independent of
  subsidies/compute.py, that materialises every line of the batch (every column the line table
  gets but the id and batch): the settlement lines with the cap rate (a join on effective-dated
  rate segments), the household cap (a join of each settlement with the household's earlier open
  loans), the blacklist, the support period, the rounding and the reason, and the lines of loans
  with no settlement. It writes no WAL, has no index and no foreign key, takes the county's
  villages as a list of ids (as the chunks do), may use parallel query, and runs with the settings
  each chunk runs with (jit off, random_page_cost 1.1);
- the batch: two `celery -A config worker --pool=solo --concurrency=1` processes on a queue of
  this run's own, pointed at the scratch database through the environment; timed from calling
  services.batch_compute until the batch is `computed` (polled every 0.1 s).

Both start after a VACUUM ANALYZE and a CHECKPOINT, so neither pays for hint bits or the data
generation's dirty buffers. The totals of the two (sum of the subsidy to the cent, number of lines,
lines per excluded reason) and the lines themselves must match; otherwise the run exits with 1.
Workers are stopped, the queue deleted and the database dropped at the end, also on failure.
Sizes come first, the figures last, one per line:

    subsidy_batch_s: X s
    subsidy_floor_s: Y s
    subsidy_ratio: Z                    (batch ÷ floor; goal ≤ 2)
    subsidy_worker1_peak_mb: A MB       (VmHWM of each worker just before it stops; goal ≤ 500)
    subsidy_worker2_peak_mb: B MB

Goal for 1,000,000 loans on the 2-core machine: ≤ 60 s.

Usage: .venv/bin/python bench/subsidy.py [--loans 1000000] [--workers 2] [--chunk LOANS] [--keep]
"""

from __future__ import annotations

import argparse
import datetime
import os
import signal
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import _celery_workers as celery_workers  # bench/ is the script's own directory, first on sys.path

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DB = "test_fupin_subsidy_bench"
QUEUE = f"subsidy-bench-{os.getpid()}"
TOWNSHIPS, VILLAGES_PER_TOWNSHIP = 10, 20


def _setup() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ.setdefault("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/fupin_subsidy_bench")
    # The process that calls services.batch_compute sends the chunks to this run's own queue.
    os.environ["SUBSIDY_QUEUE"] = QUEUE
    import django

    django.setup()


# ---- data ----------------------------------------------------------------------------------------


def _quarter() -> tuple[int, int]:
    """The last full quarter: the one a batch can be computed for today."""
    from django.utils import timezone

    from subsidies.services import previous_quarter, quarter_of

    return previous_quarter(*quarter_of(timezone.localdate()))


def _org_tree():
    """The county, its townships and villages, a bank branch, the user who recorded everything,
    and the county's policy profile (the model's defaults: benchmark cap, share 1, 3 years, 50,000
    per household). Small, so through the ORM."""
    from accounts.models import OrgUnit, User
    from policies.models import PolicyProfile

    county = OrgUnit.objects.create(kind=OrgUnit.Kind.COUNTY, code="459998", name="基准县")
    villages = []
    for t in range(1, TOWNSHIPS + 1):
        township = OrgUnit.objects.create(
            kind=OrgUnit.Kind.TOWNSHIP, parent=county, code=f"459998{t:03d}", name=f"基准{t}镇"
        )
        villages += OrgUnit.objects.bulk_create(
            OrgUnit(
                kind=OrgUnit.Kind.VILLAGE,
                parent=township,
                code=f"459998{t:03d}{v:03d}",
                name=f"基准{t}镇{v}村",
            )
            for v in range(1, VILLAGES_PER_TOWNSHIP + 1)
        )
    bank = OrgUnit.objects.create(kind=OrgUnit.Kind.BANK, code="BS01", name="基准农商银行")
    branch = OrgUnit.objects.create(kind=OrgUnit.Kind.BRANCH, parent=bank, code="BS01-01", name="基准支行")
    user = User.objects.create(username="bench-subsidy", name="基准录入员", unit=branch)
    PolicyProfile.objects.create(
        county=county, name="基准政策", effective_from=datetime.date(2015, 1, 1), source_text="bench"
    )
    return county, [v.pk for v in villages], branch, user


# Loan i (1..N) belongs to household i, except the last tenth, which are second loans of every
# ninth household, and renewals (i % 100 in 13, 14), which renew loan i - 2 of the same household.
# `b = i % 100` picks the kind of loan; hashes of i pick term and rate, amount and payment, so the
# kinds are independent of each other.
_LOANS_SQL = """
INSERT INTO loans_loan (id, contract_no, receipt_no, account_no, amount, rate, rate_basis, term_months,
    disbursed_on, maturity_on, use_mode, purpose_category, outstanding, state, classification,
    days_past_due, created_at, borrower_id, branch_id, household_id, entity_name, imported,
    original_loan_id, settled_on)
SELECT g.i, 'BSC' || lpad(g.i::text, 9, '0'), 'BSR' || lpad(g.i::text, 9, '0'),
    '6230' || lpad(g.i::text, 15, '0'), g.amount, g.rate, 'benchmark',
    g.term, g.disbursed_on, g.disbursed_on + make_interval(months => g.term + g.extra_months),
    'self', 'breeding', CASE WHEN g.settled_on IS NULL THEN g.amount ELSE 0 END, g.state, 'normal',
    0, now(), g.hh, %(branch)s, g.hh, '', TRUE, g.original, g.settled_on
FROM (
  SELECT k.i, k.hh,
    CASE WHEN k.i > %(households)s THEN (ARRAY[20000, 30000])[1 + k.i %% 2]
         ELSE (ARRAY[50000, 40000, 30000, 20000])[1 + k.h_amount %% 4] END::numeric(12, 2) AS amount,
    CASE WHEN k.h_rate < 75 THEN 4.35 WHEN k.h_rate < 85 THEN 4.35 WHEN k.h_rate < 95 THEN 5.50
         ELSE 4.75 END::numeric(6, 4) AS rate,
    CASE WHEN k.h_rate < 75 THEN 36 WHEN k.h_rate < 85 THEN 12 WHEN k.h_rate < 95 THEN 36 ELSE 24 END AS term,
    CASE
      WHEN k.b < 5 THEN %(p0)s::date + 5 + k.i %% 55                      -- mid-period disbursement
      WHEN k.b < 7 THEN %(p1)s::date + 1 + k.i %% 5                       -- no settlement due yet
      WHEN k.b < 10 THEN (%(p0)s::date - interval '3 years')::date + 1 + k.i %% 80  -- support ends mid-period
      WHEN k.b < 11 THEN (%(p0)s::date - interval '3 years')::date - 1 - k.i %% 100 -- support over
      WHEN k.b < 13 THEN (%(p0)s::date - interval '3 years')::date + 40 + k.i %% 30 -- settled, renewed below
      WHEN k.b < 15 THEN %(qstart)s::date - 30                             -- renewal of loan i - 2
      ELSE %(p0)s::date - 1 - ((k.i::bigint * 7919) %% 1000)::int          -- ordinary, inside support
    END AS disbursed_on,
    CASE WHEN k.b BETWEEN 7 AND 10 THEN 6 ELSE 0 END AS extra_months,
    CASE WHEN k.b BETWEEN 7 AND 9 THEN 'extended' WHEN k.b = 10 THEN 'overdue'
         WHEN k.b BETWEEN 11 AND 12 THEN 'settled' ELSE 'active' END AS state,
    CASE WHEN k.b BETWEEN 11 AND 12 THEN %(qstart)s::date - 30 END AS settled_on,
    CASE WHEN k.b BETWEEN 13 AND 14 AND k.i > 2 THEN k.i - 2 END AS original
  FROM (
    SELECT i, i %% 100 AS b,
      CASE WHEN i > %(households)s THEN (i - %(households)s) * 9
           WHEN i %% 100 IN (13, 14) AND i > 2 THEN i - 2 ELSE i END AS hh,
      abs(hashint8(i) %% 100) AS h_rate, abs(hashint8(i + 7777777) %% 100) AS h_amount
    FROM generate_series(1, %(loans)s) AS i
  ) k
) g"""

# One settlement per loan for the quarter's period (the 20th of the month before the quarter to
# the 20th of its last month, 算头不算尾), except loans settled before it or disbursed after it.
_SETTLEMENTS_SQL = """
INSERT INTO loans_settlement (loan_id, period_start, period_end, principal, rate, interest_due,
    interest_paid, penalty_paid, paid_on, source, source_file, reason, recorded_at, recorded_by_id,
    needs_review, review_note)
SELECT d.id, d.ps, %(p1)s, d.amount, d.rate, d.due,
    CASE WHEN d.h < 88 THEN d.due WHEN d.h = 88 THEN 0 WHEN d.h = 89 THEN round(d.due / 2, 2)
         WHEN d.h < 95 THEN 0 ELSE d.due END,
    CASE WHEN d.h >= 97 THEN round(d.due * 0.3, 2) ELSE 0 END,
    CASE WHEN d.h < 90 THEN %(p1)s::date          -- paid (88: nothing, 89: half)
         WHEN d.h < 95 THEN NULL                  -- unpaid
         WHEN d.h < 97 THEN %(qend)s::date + 5    -- paid after the quarter
         ELSE %(p1)s::date + 7 END,               -- paid late, with penalty interest
    'import', '', '', now(), %(user)s, d.h = 87, ''
FROM (
  SELECT l.id, l.amount, l.rate, GREATEST(%(p0)s::date, l.disbursed_on) AS ps,
    round(l.amount * l.rate * (%(p1)s::date - GREATEST(%(p0)s::date, l.disbursed_on)) / 36000, 2) AS due,
    abs(hashint8(l.id + 3333333) %% 100) AS h
  FROM loans_loan l
  WHERE l.disbursed_on < %(p1)s AND (l.settled_on IS NULL OR l.settled_on > %(p0)s)
) d"""

_HOUSEHOLDS_SQL = """
INSERT INTO households_household (id, registration_no, poverty_status, exited_on, address, assets, debts,
    annual_income, business, created_at, updated_at, village_id)
SELECT k, 'BS' || lpad(k::text, 12, '0'),
    CASE WHEN k %% 5 = 0 THEN 'exited' ELSE 'not_exited' END,
    CASE WHEN k %% 5 = 0 THEN DATE '2020-12-31' END,
    '', 0, 0, 12000, '', now(), now(), (%(villages)s::bigint[])[1 + k %% %(nvillages)s]
FROM generate_series(1, %(households)s) AS k"""

# The compute never reads the encrypted ID number: dummy values that satisfy the columns.
_MEMBERS_SQL = """
INSERT INTO households_member (id, name, id_number_encrypted, id_number_hash, id_number_masked, birth_date,
    is_male, relation, is_head, phone, labour_capacity, household_id)
SELECT k, '户主' || k, 'bench', 'bench-' || lpad(k::text, 9, '0'),
    '450322********' || lpad((k %% 10000)::text, 4, '0'),
    DATE '1970-01-01' + k %% 10000, k %% 2 = 0, 'head', TRUE, '', 'full', k
FROM generate_series(1, %(households)s) AS k"""

# A few households per thousand: blacklisted through the period, once but no longer, only after the
# period (withheld while it stays there), and removed during the period.
_BLACKLIST_SQL = """
INSERT INTO households_blacklistentry (household_id, reason, added_at, removed_at, removal_reason,
    added_by_id)
SELECT k, 'bench',
    (CASE WHEN k %% 1000 = 3 THEN %(p1)s::date + 3 ELSE %(p0)s::date - 365 END + TIME '10:00')
        AT TIME ZONE 'Asia/Shanghai',
    (CASE k %% 1000 WHEN 2 THEN %(p0)s::date - 30 WHEN 4 THEN %(p0)s::date + 20 END + TIME '10:00')
        AT TIME ZONE 'Asia/Shanghai',
    '', %(user)s
FROM generate_series(1, %(households)s) AS k
WHERE k %% 1000 < 5"""


def _generate(loans: int, year: int, quarter: int) -> dict:
    from django.db import connection

    from subsidies.models import SubsidyBatch

    county, villages, branch, user = _org_tree()
    probe = SubsidyBatch(year=year, quarter=quarter)
    qstart, qend = probe.quarter_start, probe.quarter_end
    p1 = qend.replace(day=20)
    p0 = (qstart - datetime.timedelta(days=1)).replace(day=20)
    households = loans - loans // 10
    params = {
        "loans": loans,
        "households": households,
        "villages": villages,
        "nvillages": len(villages),
        "branch": branch.pk,
        "user": user.pk,
        "p0": p0,
        "p1": p1,
        "qstart": qstart,
        "qend": qend,
    }
    with connection.cursor() as cursor:
        # Scratch data, consistent by construction: skip the foreign-key triggers and the WAL flush.
        cursor.execute("SET session_replication_role = replica")
        cursor.execute("SET synchronous_commit = off")
        for sql in (_HOUSEHOLDS_SQL, _MEMBERS_SQL, _LOANS_SQL, _SETTLEMENTS_SQL, _BLACKLIST_SQL):
            cursor.execute(sql, params)
        cursor.execute("SET session_replication_role = DEFAULT")
        for table in ("households_household", "households_member", "loans_loan"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        for table in (
            "households_household",
            "households_member",
            "households_blacklistentry",
            "loans_loan",
            "loans_settlement",
            "policies_rate",
            "accounts_orgunit",
        ):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
        cursor.execute("SELECT count(*) FROM loans_settlement")
        settlements = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM households_blacklistentry")
        blacklisted = cursor.fetchone()[0]
        cursor.execute("CHECKPOINT")
    return {
        "county": county,
        "households": households,
        "settlements": settlements,
        "blacklisted": blacklisted,
        "quarter": f"{year}Q{quarter}",
    }


# ---- the floor -----------------------------------------------------------------------------------

FLOOR_SQL = """
CREATE UNLOGGED TABLE bench_floor AS
WITH considered AS (
  -- Every settlement due by the quarter's end and not claimed, with what the rule needs of its
  -- loan; those that ended before the window get a final line saying so.
  SELECT l.id AS loan_id, l.household_id, h.village_id, l.disbursed_on, l.term_months, l.maturity_on,
         s.id AS settlement_id, s.period_start, s.period_end, s.paid_on, s.principal, s.rate,
         s.interest_paid, s.penalty_paid, s.needs_review,
         COALESCE(first.disbursed_on, l.disbursed_on) AS support_start,
         -- The table that prices the contract: LPR only for contracts from 2019-08-20.
         CASE WHEN %(basis)s = 'lpr' AND l.disbursed_on < DATE '2019-08-20' THEN 'benchmark'
              ELSE %(basis)s END AS cap_kind
  FROM loans_settlement s
  JOIN loans_loan l ON l.id = s.loan_id
  JOIN households_household h ON h.id = l.household_id AND h.village_id IN ({villages})
  LEFT JOIN loans_loan first ON first.id = l.original_loan_id
  WHERE s.period_end <= %(qend)s
    AND NOT EXISTS (SELECT FROM subsidies_subsidyline c WHERE c.claimed AND c.settlement_id = s.id)
),
ahead AS (
  -- The household's loans disbursed before this one (ties by id), open during the period, with
  -- the principal they owed when it started: for a loan still open, outstanding now plus what
  -- was repaid since; for one closed since, its amount less what was repaid before.
  SELECT c.settlement_id,
         sum(CASE WHEN o.settled_on IS NULL
               THEN o.outstanding + COALESCE((SELECT sum(rp.principal) FROM loans_repayment rp
                                              WHERE rp.loan_id = o.id AND rp.paid_on > c.period_start), 0)
               ELSE o.amount - COALESCE((SELECT sum(rp.principal) FROM loans_repayment rp
                                         WHERE rp.loan_id = o.id AND rp.paid_on <= c.period_start), 0)
             END) AS amount
  FROM considered c
  JOIN loans_loan o ON o.household_id = c.household_id
  WHERE (o.disbursed_on, o.id) < (c.disbursed_on, c.loan_id)
    AND o.disbursed_on < c.period_end
    AND ((o.settled_on IS NULL AND o.state IN ('active', 'overdue', 'extended'))
         OR o.settled_on > c.period_start)
  GROUP BY c.settlement_id
),
cap AS (
  -- The rate table as segments [since, until) per table and tenor.
  SELECT kind, tenor, annual_rate, effective_from AS since,
         LEAD(effective_from) OVER (PARTITION BY kind, tenor ORDER BY effective_from) AS until
  FROM policies_rate
)
SELECT d.loan_id, d.household_id, d.village_id, d.settlement_id, d.period_start, d.period_end, d.paid_on,
       d.period_days, d.days, d.principal, d.subsidized_principal, d.rate AS contract_rate, d.cap_rate,
       d.rate_used, d.interest_paid, d.penalty_paid,
       CASE WHEN d.reason = '' THEN d.amount ELSE 0 END AS subsidy,
       d.reason AS excluded_reason,
       CASE WHEN d.reason <> '' THEN ''
            WHEN d.support_days > d.days THEN 'after_maturity'
            WHEN d.period_days > d.support_days THEN 'outside_support'
            WHEN d.subsidized_principal < d.principal THEN 'household_cap'
            ELSE '' END AS reduced_reason,
       d.reason NOT IN ('unpaid', 'interest_unconfirmed', 'blacklisted_now', 'no_cap_rate') AS claimed
FROM (
  SELECT p.*, CASE
      WHEN p.period_end <= %(lookback)s THEN 'before_window'
      WHEN p.paid_on IS NULL OR p.paid_on > %(qend)s THEN 'unpaid'
      WHEN p.needs_review THEN 'interest_unconfirmed'
      WHEN p.in_period THEN 'blacklisted'
      WHEN p.now_listed THEN 'blacklisted_now'
      WHEN p.days <= 0 AND p.support_days > 0 THEN 'after_maturity'
      WHEN p.days <= 0 THEN 'outside_support'
      WHEN p.cap_rate IS NULL THEN 'no_cap_rate'
      WHEN p.subsidized_principal <= 0 AND p.principal > 0 THEN 'over_household_cap'
      WHEN p.interest_paid <= 0 THEN 'nothing_paid'
      WHEN %(share)s <= 0 THEN 'no_share'
      WHEN p.amount IS NULL OR p.amount <= 0 THEN 'below_one_cent'
      ELSE '' END AS reason
  FROM (
    SELECT m.*,
      CASE WHEN m.principal > 0 AND m.rate_used IS NOT NULL AND m.days > 0 THEN round(LEAST(
        %(share)s * m.interest_paid * m.subsidized_principal / m.principal,
        %(share)s * m.subsidized_principal * m.rate_used * m.days / 36000), 2) END AS amount
    FROM (
      SELECT c.*, cap.annual_rate AS cap_rate,
        CASE WHEN cap.annual_rate IS NOT NULL THEN LEAST(c.rate, cap.annual_rate) END AS rate_used,
        c.period_end - c.period_start AS period_days,
        GREATEST(LEAST(c.period_end, (c.support_start + make_interval(years => %(years)s))::date)
                 - GREATEST(c.period_start, c.support_start), 0) AS support_days,
        GREATEST(LEAST(c.period_end, (c.support_start + make_interval(years => %(years)s))::date,
                       c.maturity_on)
                 - GREATEST(c.period_start, c.support_start), 0) AS days,
        LEAST(c.principal, GREATEST(%(hcap)s - COALESCE(a.amount, 0), 0)) AS subsidized_principal,
        EXISTS (SELECT FROM households_blacklistentry b WHERE b.household_id = c.household_id
                AND (b.added_at AT TIME ZONE 'Asia/Shanghai')::date < c.period_end
                AND (b.removed_at IS NULL
                     OR (b.removed_at AT TIME ZONE 'Asia/Shanghai')::date >= c.period_start)) AS in_period,
        EXISTS (SELECT FROM households_blacklistentry b WHERE b.household_id = c.household_id
                AND b.removed_at IS NULL) AS now_listed
      FROM considered c
      LEFT JOIN ahead a ON a.settlement_id = c.settlement_id
      -- The cap rate in force on the contract date, for the loan's term.
      LEFT JOIN cap ON cap.kind = c.cap_kind AND cap.tenor = CASE
          WHEN c.cap_kind = 'lpr' THEN (CASE WHEN c.term_months <= 12 THEN 'lpr1y' ELSE 'lpr5y' END)
          WHEN c.term_months <= 12 THEN 'le1y' WHEN c.term_months <= 60 THEN '1to5y' ELSE 'gt5y' END
        AND cap.since <= c.disbursed_on AND (cap.until IS NULL OR c.disbursed_on < cap.until)
      OFFSET 0  -- each layer computed once, not copied into the layer above
    ) m
    OFFSET 0
  ) p
  OFFSET 0
) d
UNION ALL
-- Loans open during the quarter without a settlement line.
SELECT l.id, l.household_id, h.village_id, NULL, NULL, NULL, NULL, 0, 0, l.amount, 0, l.rate, NULL, NULL,
       0, 0, 0, 'no_settlement', '', FALSE
FROM loans_loan l
JOIN households_household h ON h.id = l.household_id AND h.village_id IN ({villages})
WHERE l.disbursed_on <= %(qend)s
  AND ((l.settled_on IS NULL AND l.state IN ('active', 'overdue', 'extended')) OR l.settled_on >= %(qstart)s)
  AND NOT EXISTS (SELECT FROM considered c WHERE c.loan_id = l.id)"""


def _floor(batch) -> float:
    from django.db import connection, transaction

    from policies.selectors import profile_for

    profile = profile_for(county=batch.county, on_date=batch.quarter_end)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT v.id FROM accounts_orgunit v JOIN accounts_orgunit t ON t.id = v.parent_id"
            " WHERE t.parent_id = %s",
            [batch.county_id],
        )
        villages = ", ".join(str(row[0]) for row in cursor.fetchall()) or "NULL"
    params = {
        "county": batch.county_id,
        "qstart": batch.quarter_start,
        "qend": batch.quarter_end,
        # The window starts a year before the batch's year, but never before the county's first
        # batch, which this one is: its quarter (services.considers_from).
        "lookback": max(datetime.date(batch.year - 1, 1, 1), batch.quarter_start)
        - datetime.timedelta(days=1),
        "basis": profile.subsidy_cap_basis,
        "share": profile.subsidy_share,
        "years": profile.subsidy_years,
        "hcap": profile.subsidized_principal_max,
    }
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_floor")
        start = time.perf_counter()
        with transaction.atomic():
            # The settings each chunk of the batch runs with.
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL random_page_cost = 1.1")
            cursor.execute(FLOOR_SQL.replace("{villages}", villages), params)
        elapsed = time.perf_counter() - start
        cursor.execute("CHECKPOINT")
    return elapsed


# ---- the batch, on Celery ------------------------------------------------------------------------


def _batch(county, year: int, quarter: int, workers, timeout: float) -> tuple[object, float]:
    from subsidies import services
    from subsidies.models import SubsidyBatch
    from subsidies.workflow import State

    batch = services.batch_create(acting_user=None, county=county, year=year, quarter=quarter, system=True)
    start = time.perf_counter()
    services.batch_compute(acting_user=None, batch=batch, system=True)
    deadline = time.monotonic() + timeout
    while True:
        state = SubsidyBatch.objects.filter(pk=batch.pk).values_list("state", flat=True).get()
        if state == State.COMPUTED:
            elapsed = time.perf_counter() - start
            break
        if state != State.COMPUTING:
            raise SystemExit(f"the batch went to {state!r}")
        for name, proc in workers:
            if proc.poll() is not None:
                raise SystemExit(f"worker {name} died with {proc.returncode}")
        if time.monotonic() > deadline:
            raise SystemExit(f"the batch was not computed within {timeout:.0f} s")
        time.sleep(0.1)
    batch.refresh_from_db()
    return batch, elapsed


# ---- checks --------------------------------------------------------------------------------------

_COMPARED = (
    "loan_id, household_id, village_id, settlement_id, period_start, period_end, paid_on, period_days,"
    " days, principal, subsidized_principal, contract_rate, cap_rate, rate_used, interest_paid,"
    " penalty_paid, subsidy, excluded_reason, reduced_reason, claimed"
)


def _totals(cursor, source: str, params: list) -> tuple[Decimal, int, dict[str, int]]:
    cursor.execute(f"SELECT coalesce(sum(subsidy), 0), count(*) FROM {source}", params)
    total, lines = cursor.fetchone()
    cursor.execute(f"SELECT excluded_reason, count(*) FROM {source} GROUP BY 1 ORDER BY 1", params)
    return Decimal(total).quantize(Decimal("0.01")), lines, dict(cursor.fetchall())


def _check(batch) -> bool:
    from django.db import connection

    batch_lines = "subsidies_subsidyline WHERE batch_id = %s"
    with connection.cursor() as cursor:
        got = _totals(cursor, batch_lines, [batch.pk])
        want = _totals(cursor, "bench_floor", [])
        cursor.execute(
            f"SELECT count(*) FROM ((SELECT {_COMPARED} FROM {batch_lines} EXCEPT ALL"
            f" SELECT {_COMPARED} FROM bench_floor) UNION ALL (SELECT {_COMPARED} FROM bench_floor"
            f" EXCEPT ALL SELECT {_COMPARED} FROM {batch_lines})) d",
            [batch.pk, batch.pk],
        )
        differing = cursor.fetchone()[0]
    print(f"batch: total {got[0]} yuan, {got[1]} lines, by reason {got[2]}")
    print(f"floor: total {want[0]} yuan, {want[1]} lines, by reason {want[2]}")
    stored = (batch.total, batch.line_count)
    ok = got == want and stored == got[:2] and differing == 0
    if not ok:
        print(
            f"MISMATCH: batch totals {got[:2]} (stored on the batch: {stored}) vs floor {want[:2]};"
            f" {differing} lines differ",
            file=sys.stderr,
        )
    return ok


# ---- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=1_000_000, help="loans to generate (1,000,000)")
    parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (2)")
    parser.add_argument("--chunk", type=int, default=None, help="loans per chunk (SUBSIDY_CHUNK_LOANS)")
    parser.add_argument("--timeout", type=float, default=1800, help="give up on the batch after this (s)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database (for EXPLAIN)")
    args = parser.parse_args()

    _setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    from subsidies.models import SubsidyBatch

    if args.chunk:
        settings.SUBSIDY_CHUNK_LOANS = args.chunk
    setup_test_environment()
    # SIGTERM (a CI timeout) takes the same way out as an error: workers stopped, database dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    year, quarter = _quarter()
    print(
        f"sizes: {args.loans} loans, {args.loans - args.loans // 10} households, batch {year}Q{quarter},"
        f" {args.workers} workers, chunks of {settings.SUBSIDY_CHUNK_LOANS} loans",
        flush=True,
    )
    old_name = connection.settings_dict["NAME"]
    connection.settings_dict.setdefault("TEST", {})["NAME"] = SCRATCH_DB
    db = connection.settings_dict
    database_url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{SCRATCH_DB}"
    if db.get("PASSWORD"):
        database_url = database_url.replace("@", f":{db['PASSWORD']}@", 1)
    workers = []
    ok = False
    with tempfile.TemporaryDirectory(prefix="subsidy-bench-") as logdir:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
        try:
            # The workers start while the data is generated; they touch the database only for tasks.
            workers = celery_workers.start(
                args.workers, queue=QUEUE, database_url=database_url, logdir=logdir
            )
            start = time.perf_counter()
            data = _generate(args.loans, year, quarter)
            print(
                f"generated: {data['households']} households, {data['settlements']} settlements,"
                f" {data['blacklisted']} blacklist entries in {time.perf_counter() - start:.1f} s",
                flush=True,
            )
            celery_workers.wait_ready(workers)
            floor_s = _floor(SubsidyBatch(county=data["county"], year=year, quarter=quarter))
            batch, batch_s = _batch(data["county"], year, quarter, workers, args.timeout)
            peaks = celery_workers.stop(workers)
            chunks = batch.chunks.filter(run=batch.run).count()
            print(f"batch: {chunks} chunks of at most {settings.SUBSIDY_CHUNK_LOANS} loans", flush=True)
            ok = _check(batch)
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
                print(f"kept the scratch database {SCRATCH_DB}", file=sys.stderr)
                connection.close()
            else:
                connection.creation.destroy_test_db(old_name, verbosity=0)

    print(f"subsidy_batch_s: {batch_s:.1f} s")
    print(f"subsidy_floor_s: {floor_s:.1f} s")
    print(f"subsidy_ratio: {batch_s / floor_s:.2f}")
    for n, peak in enumerate(peaks, 1):
        print(f"subsidy_worker{n}_peak_mb: {peak:.0f} MB")
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
