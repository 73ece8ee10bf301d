"""The subsidy of every settlement of a range of loans, as one set-based SQL statement (DOMAIN §6).

This module is the one place the subsidy rule lives. For one settlement paid by the borrower:

    subsidy = round_half_up( min( interest paid × subsidized principal ÷ principal,
                                  subsidized principal × min(contract rate, cap rate) × days ÷ 360 )
                             × subsidy share, 2)

where
- `days` are the days of the period inside the support period (which runs `subsidy_years` from
  the disbursement of the chain's first loan, DOMAIN §6, P1 art.24) and before the loan's
  maturity (the extended one, where an extension was granted): after maturity the borrower owes
  penalty interest, which is never subsidized;
- the cap rate is the one in force on the contract date (the loan's disbursement), fixed for the
  contract like its rate, from the table `policies.selectors.rate_kind_for` names for the
  profile's cap basis (mirrored here in SQL; a test holds the two equal), for the loan's term;
- the subsidized principal is what is left of the household's cap after the principal its
  earlier loans still owe when the period starts (DOMAIN §6: the principal actually outstanding;
  it only falls during the period, so no day of it is subsidized above the cap).

Penalty and compound interest are a separate column and never enter. Days count as in
loans/interest.py: start day counted, end day not (算头不算尾). Both terms are rounded half-up to
the fen before the smaller is taken, which is the same as rounding the smaller (rounding is
monotone) and keeps the arithmetic exact on both databases: PostgreSQL's numeric keeps every
digit; the embedded SQLite of `make run` does the same arithmetic in Python's Decimal through the
functions `register_sqlite_functions` installs, so the demo shows the figures PostgreSQL would.

Every settlement of a loan considered gets a line: one the batch may pay (a subsidy, or why
not), or, when its period ended before what the batch looks at (`considers_from`), a final line
saying so, so no settlement is dropped silently.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext

from dateutil.relativedelta import relativedelta
from django.db import connection

from loans.models import Loan
from policies.selectors import LPR_SINCE

from .models import WAITING_REASONS, ExcludedReason, ReducedReason

# Loan ids are below this; the last chunk of a run ends here.
ID_CEILING = 2**62

_DIALECTS = {
    "postgresql": {
        "least": "LEAST",
        "greatest": "GREATEST",
        "days": "({a} - {b})",
        "plus_years": "(({d}) + make_interval(years => {n}))::date",
        "local_date": "(({ts}) AT TIME ZONE 'Asia/Shanghai')::date",
        "true": "TRUE",
        "false": "FALSE",
        "key_share": " FOR KEY SHARE",
        # Keeps the planner from merging a subquery into the one above it, which would copy its
        # expressions (and correlated subqueries) into every place that uses a column of it.
        "fence": "OFFSET 0",
        "mul": lambda *xs: "(" + " * ".join(xs) + ")",
        "div": lambda a, b: f"({a} / {b})",
        "round2": lambda x: f"ROUND({x}, 2)",
        "num": lambda x: x,
    },
    "sqlite": {
        "least": "MIN",
        "greatest": "MAX",
        "days": "CAST(julianday({a}) - julianday({b}) AS INTEGER)",
        # SQLite's date(d, '+3 years') takes 29 February to 1 March; PostgreSQL (and the law's
        # "three years") to 28 February: fin_add_years does what PostgreSQL does.
        "plus_years": "fin_add_years({d}, {n})",
        "local_date": "date({ts}, '+8 hours')",
        "true": "1",
        "false": "0",
        "key_share": "",
        "fence": "",
        "mul": lambda *xs: "fin_mul(" + ", ".join(xs) + ")",
        "div": lambda a, b: f"fin_div({a}, {b})",
        "round2": lambda x: f"fin_round2({x})",
        # SQLite compares a text parameter with a number as text: make it a number first.
        "num": lambda x: f"CAST({x} AS REAL)",
    },
}


def _dialect() -> dict:
    return _DIALECTS[connection.vendor]


@dataclass(frozen=True)
class Params:
    """Everything a chunk needs, fixed when the computation starts: the batch's quarter and the
    profile in force at its end (DOMAIN §10: judged by the profile of the day of the action)."""

    batch_id: int
    county_id: int
    quarter_start: datetime.date
    quarter_end: datetime.date
    # Settlements due on or before this are outside the window: they get a final line saying so.
    lookback_from: datetime.date
    today: datetime.date
    cap_basis: str
    share: Decimal
    years: int
    household_cap: Decimal

    def sql_params(self, lo: int, hi: int) -> dict:
        return {
            "batch": self.batch_id,
            "county": self.county_id,
            "qstart": self.quarter_start,
            "qend": self.quarter_end,
            "lookback": self.lookback_from,
            "today": self.today,
            "basis": self.cap_basis,
            "share": self.share,
            "years": self.years,
            "hcap": self.household_cap,
            "lpr_since": LPR_SINCE,
            "lo": lo,
            "hi": hi,
            **{f"w_{i}": reason.value for i, reason in enumerate(WAITING_REASONS)},
        }


# The rate table and tenor of a contract, as policies.selectors.rate_kind_for and tenor_for decide
# them (a test holds them equal for every term and both sides of 2019-08-20).
_KIND_SQL = """(CASE WHEN %(basis)s = 'lpr' AND l.disbursed_on < %(lpr_since)s THEN 'benchmark'
    ELSE %(basis)s END)"""
_TENOR_SQL = f"""CASE
    WHEN {_KIND_SQL} = 'lpr' THEN (CASE WHEN l.term_months <= 12 THEN 'lpr1y' ELSE 'lpr5y' END)
    WHEN l.term_months <= 12 THEN 'le1y'
    WHEN l.term_months <= 60 THEN '1to5y'
    ELSE 'gt5y' END"""

# Loans with their household; _in_county keeps those of the county (their household's village's
# township's county), _in_chunk those of them in the chunk's id range.
_COUNTY_LOANS = """
    FROM loans_loan l
    JOIN households_household h ON h.id = l.household_id"""


def _in_county(villages: list[int]) -> str:
    # The county's villages come as a list of ids, not a join through the townships: the planner
    # misjudges that join (it counts a county's villages as a tenth of their number) and would then
    # read every household of the county for each chunk instead of the chunk's by key.
    ids = ", ".join(str(int(v)) for v in villages) or "NULL"
    return f"h.village_id IN ({ids})"


def _in_chunk(villages: list[int]) -> str:
    return f"{_in_county(villages)} AND l.id >= %(lo)s AND l.id < %(hi)s"


def county_villages(county_id: int) -> list[int]:
    """The ids of the villages of the county's townships."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT v.id FROM accounts_orgunit v JOIN accounts_orgunit t ON t.id = v.parent_id"
            " WHERE t.parent_id = %s ORDER BY v.id",
            [county_id],
        )
        return [row[0] for row in cursor.fetchall()]


_LINE_COLUMNS = """batch_id, loan_id, household_id, village_id, settlement_id, period_start, period_end,
    paid_on, period_days, days, principal, subsidized_principal, contract_rate, cap_rate, rate_used,
    interest_paid, penalty_paid, subsidy, excluded_reason, reduced_reason, claimed"""


def lines_sql(villages: list[int]) -> str:
    """INSERT … SELECT of the chunk's lines, in one statement: one line per settlement due by the
    quarter's end and not already decided by a line of any batch, and one line for each loan open
    during the quarter that has no such settlement (so every loan considered says why it has no
    subsidy). Both halves read the claims as they were when the statement started, so a loan gets
    a settlement line exactly when the second half leaves it out."""
    d = _dialect()
    fence = d["fence"]
    mul, div, round2, num = d["mul"], d["div"], d["round2"], d["num"]
    open_states = ", ".join(f"'{state}'" for state in Loan.OPEN_STATES)
    least, greatest = d["least"], d["greatest"]
    support_end = d["plus_years"].format(d="s1.support_start", n="%(years)s")
    days_between = d["days"]
    start = f"{greatest}(s1.period_start, s1.support_start)"
    support_days = days_between.format(a=f"{least}(s1.period_end, {support_end})", b=start)
    days_in = days_between.format(a=f"{least}(s1.period_end, {support_end}, s1.maturity_on)", b=start)
    period_days = days_between.format(a="s1.period_end", b="s1.period_start")
    added = d["local_date"].format(ts="b.added_at")
    removed = d["local_date"].format(ts="b.removed_at")
    waiting = ", ".join(f"%(w_{i})s" for i in range(len(WAITING_REASONS)))
    share = "%(share)s"
    by_interest = round2(div(mul("s2.interest_paid", "s2.subsidized_principal", share), "s2.principal"))
    by_rate = round2(div(mul("s2.subsidized_principal", "s2.rate_used", "s2.days", share), "36000"))
    R, C = ExcludedReason, ReducedReason
    return f"""
INSERT INTO subsidies_subsidyline ({_LINE_COLUMNS})
SELECT %(batch)s, f.loan_id, f.household_id, f.village_id, f.settlement_id, f.period_start, f.period_end,
       f.paid_on, f.period_days, f.days, f.principal, f.subsidized_principal, f.contract_rate, f.cap_rate,
       f.rate_used, f.interest_paid, f.penalty_paid,
       CASE WHEN f.reason = '' THEN f.amount ELSE 0 END,
       f.reason,
       CASE WHEN f.reason <> '' THEN ''
            WHEN f.support_days > f.days THEN '{C.AFTER_MATURITY}'
            WHEN f.period_days > f.support_days THEN '{C.OUTSIDE_SUPPORT}'
            WHEN f.subsidized_principal < f.principal THEN '{C.HOUSEHOLD_CAP}'
            ELSE '' END,
       CASE WHEN f.reason IN ({waiting}) THEN {d["false"]} ELSE {d["true"]} END
FROM (
  SELECT e.*,
    CASE
      WHEN e.period_end <= %(lookback)s THEN '{R.BEFORE_WINDOW}'
      WHEN e.paid_on IS NULL OR e.paid_on > %(qend)s THEN '{R.UNPAID}'
      WHEN e.needs_review THEN '{R.INTEREST_UNCONFIRMED}'
      WHEN e.blacklisted_in_period THEN '{R.BLACKLISTED}'
      WHEN e.blacklisted_now THEN '{R.BLACKLISTED_NOW}'
      WHEN e.days <= 0 AND e.support_days > 0 THEN '{R.AFTER_MATURITY}'
      WHEN e.days <= 0 THEN '{R.OUTSIDE_SUPPORT}'
      WHEN e.cap_rate IS NULL THEN '{R.NO_CAP_RATE}'
      WHEN e.subsidized_principal <= 0 AND e.principal > 0 THEN '{R.OVER_HOUSEHOLD_CAP}'
      WHEN e.interest_paid <= 0 THEN '{R.NOTHING_PAID}'
      WHEN {num(share)} <= 0 THEN '{R.NO_SHARE}'
      WHEN e.amount IS NULL OR e.amount <= 0 THEN '{R.BELOW_ONE_CENT}'
      ELSE ''
    END AS reason
  FROM (
    SELECT s2.*,
      CASE WHEN s2.principal > 0 AND s2.rate_used IS NOT NULL AND s2.days > 0
        THEN {least}({by_interest}, {by_rate}) END AS amount
    FROM (
      SELECT s1.*,
        -- LEAST in PostgreSQL skips a NULL (MIN in SQLite does not): no cap rate, no rate used.
        CASE WHEN s1.cap_rate IS NOT NULL THEN {least}(s1.contract_rate, s1.cap_rate) END AS rate_used,
        {period_days} AS period_days,
        {greatest}({support_days}, 0) AS support_days,
        {greatest}({days_in}, 0) AS days,
        {least}(s1.principal, {greatest}(%(hcap)s - s1.ahead, 0)) AS subsidized_principal
      FROM (
        SELECT l.id AS loan_id, l.household_id, h.village_id, s.id AS settlement_id,
          s.period_start, s.period_end, s.paid_on, s.principal, s.rate AS contract_rate,
          s.interest_paid, s.penalty_paid, s.needs_review, l.maturity_on,
          COALESCE(r.disbursed_on, l.disbursed_on) AS support_start,
          cr.annual_rate AS cap_rate,
          -- What the household's earlier loans still owe when the period starts. A loan still
          -- open: what it owes now plus what was repaid since. A loan closed since (repaid, or
          -- renewed, which closes it without a repayment): its amount less what was repaid
          -- before. A compensated or written-off loan bears no interest and uses none of the cap.
          COALESCE((SELECT SUM(CASE WHEN o.settled_on IS NULL
                 THEN o.outstanding + COALESCE((SELECT SUM(rp.principal) FROM loans_repayment rp
                        WHERE rp.loan_id = o.id AND rp.paid_on > s.period_start), 0)
                 ELSE o.amount - COALESCE((SELECT SUM(rp.principal) FROM loans_repayment rp
                        WHERE rp.loan_id = o.id AND rp.paid_on <= s.period_start), 0) END)
             FROM loans_loan o
             WHERE o.household_id = l.household_id AND o.id <> l.id
               AND (o.disbursed_on < l.disbursed_on OR (o.disbursed_on = l.disbursed_on AND o.id < l.id))
               AND o.disbursed_on < s.period_end
               AND ((o.settled_on IS NULL AND o.state IN ({open_states}))
                    OR o.settled_on > s.period_start)), 0)
             AS ahead,
          EXISTS (SELECT 1 FROM households_blacklistentry b WHERE b.household_id = l.household_id
             AND {added} < s.period_end
             AND (b.removed_at IS NULL OR {removed} >= s.period_start)) AS blacklisted_in_period,
          EXISTS (SELECT 1 FROM households_blacklistentry b WHERE b.household_id = l.household_id
             AND b.removed_at IS NULL) AS blacklisted_now
        {_COUNTY_LOANS}
        -- The chunk's range on s too: its settlements come by one index range scan.
        JOIN loans_settlement s ON s.loan_id = l.id AND s.loan_id >= %(lo)s AND s.loan_id < %(hi)s
        LEFT JOIN loans_loan r ON r.id = l.original_loan_id
        -- The cap rate in force on the contract date: the rate table as [from, next from)
        -- segments per table and tenor, joined once instead of a sorted lookup per loan.
        LEFT JOIN (SELECT pr.kind, pr.tenor, pr.annual_rate, pr.effective_from,
                     LEAD(pr.effective_from) OVER (PARTITION BY pr.kind, pr.tenor ORDER BY pr.effective_from)
                       AS until
                   FROM policies_rate pr) cr
          ON cr.kind = {_KIND_SQL} AND cr.tenor = ({_TENOR_SQL}) AND cr.effective_from <= l.disbursed_on
             AND (cr.until IS NULL OR l.disbursed_on < cr.until)
        WHERE {_in_chunk(villages)}
          AND s.period_end <= %(qend)s
          AND NOT EXISTS (SELECT 1 FROM subsidies_subsidyline x WHERE x.settlement_id = s.id AND x.claimed)
        {fence}
      ) s1
      {fence}
    ) s2
    {fence}
  ) e
) f
UNION ALL
SELECT %(batch)s, l.id, l.household_id, h.village_id, NULL, NULL, NULL, NULL, 0, 0, l.amount, 0,
       l.rate, NULL, NULL, 0, 0, 0, '{ExcludedReason.NO_SETTLEMENT}', '', {d["false"]}
{_COUNTY_LOANS}
WHERE {_in_chunk(villages)}
  AND l.disbursed_on <= %(qend)s
  AND ((l.settled_on IS NULL AND l.state IN ({open_states})) OR l.settled_on >= %(qstart)s)
  AND NOT EXISTS (SELECT 1 FROM loans_settlement s
    WHERE s.loan_id = l.id AND s.period_end <= %(qend)s
      AND NOT EXISTS (SELECT 1 FROM subsidies_subsidyline x WHERE x.settlement_id = s.id AND x.claimed))"""


def delete_lines_sql() -> str:
    return (
        "DELETE FROM subsidies_subsidyline"
        " WHERE batch_id = %(batch)s AND loan_id >= %(lo)s AND loan_id < %(hi)s"
    )


def lock_batch_sql() -> str:
    """Hold the batch while a chunk writes: FOR KEY SHARE lets other chunks and the progress
    update (FOR NO KEY UPDATE) go on, but makes a cancel or a new run (FOR UPDATE) wait until the
    chunk has committed, so no line of a cancelled run slips in after the cancel."""
    return "SELECT state, run FROM subsidies_subsidybatch WHERE id = %s" + _dialect()["key_share"]


def chunk_bounds(*, county_id: int, size: int) -> tuple[list[tuple[int, int, int]], int]:
    """Split the county's loans into id ranges of `size` loans: [(lo, hi, loans)], and the total.
    One query (after the county's villages); the ids themselves never come to Python."""
    sql = f"""
SELECT q.id, q.n FROM (
  SELECT l.id, ROW_NUMBER() OVER (ORDER BY l.id) AS rn, COUNT(*) OVER () AS n
  {_COUNTY_LOANS}
  WHERE {_in_county(county_villages(county_id))}
) q WHERE (q.rn - 1) %% {int(size)} = 0 ORDER BY q.id"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [])
        rows = cursor.fetchall()
    if not rows:
        return [], 0
    total = int(rows[0][1])
    starts = [0] + [int(r[0]) for r in rows[1:]]
    ends = starts[1:] + [ID_CEILING]
    counts = [size] * (len(rows) - 1) + [total - size * (len(rows) - 1)]
    return list(zip(starts, ends, counts, strict=True)), total


def compute_range(params: Params, lo: int, hi: int) -> int:
    """Replace the batch's lines for loans lo <= id < hi. Runs inside the caller's transaction.
    Returns the number of lines written."""
    values = params.sql_params(lo, hi)
    villages = county_villages(params.county_id)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_CHUNK_SETTINGS)
        else:
            register_sqlite_functions(connection)
        cursor.execute(delete_lines_sql(), values)
        cursor.execute(lines_sql(villages), values)
        return cursor.rowcount


# For the chunk's transaction only (PostgreSQL), in one round trip. A chunk reads its thousands of
# rows by key from tables that are in memory: with the default random_page_cost (4, for spinning
# disks) the planner reads a whole table per chunk rather than look the rows up. Compiling a
# chunk's statement (jit) would cost more than it saves (up to seconds when it starts).
_CHUNK_SETTINGS = "SET LOCAL random_page_cost = 1.1; SET LOCAL jit = off"


# ---- exact money on SQLite ---------------------------------------------------------------------
# SQLite stores the money columns as floating point and multiplies in floating point, where
# 75.045 is 75.04499… and would round down. These functions do the multiplications, the division
# and the half-up rounding of the formula above in Decimal instead. Their arguments are column
# values (floats holding at most four decimals), parameters (text) or results of each other
# (text, full precision); the rounding returns a float again so SQLite can compare it with 0.

# A float argument carries at most four decimals of the value it stands for (money two, rates and
# shares four): six recover it exactly and drop the float's noise (29999.989999999998).
_FLOAT_PLACES = Decimal("0.000001")
_CENT = Decimal("0.01")


def _exact(value) -> Decimal:
    if isinstance(value, float):
        return Decimal(repr(value)).quantize(_FLOAT_PLACES)
    return Decimal(str(value))


def _fin_mul(*values) -> str | None:
    if any(v is None for v in values):
        return None
    with localcontext() as ctx:
        ctx.prec = 50
        product = Decimal(1)
        for v in values:
            product *= _exact(v)
        return str(product)


def _fin_div(a, b) -> str | None:
    if a is None or b is None or _exact(b) == 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 50
        return str(_exact(a) / _exact(b))


def _fin_round2(value) -> float | None:
    if value is None:
        return None
    return float(_exact(value).quantize(_CENT, rounding=ROUND_HALF_UP))


def _fin_add_years(day, years) -> str | None:
    if day is None or years is None:
        return None
    return (datetime.date.fromisoformat(str(day)[:10]) + relativedelta(years=int(years))).isoformat()


def register_sqlite_functions(conn) -> None:
    """Install fin_mul, fin_div, fin_round2 and fin_add_years on Django's SQLite connection
    (idempotent)."""
    conn.ensure_connection()
    raw = conn.connection
    raw.create_function("fin_add_years", 2, _fin_add_years, deterministic=True)
    raw.create_function("fin_mul", -1, _fin_mul, deterministic=True)
    raw.create_function("fin_div", 2, _fin_div, deterministic=True)
    raw.create_function("fin_round2", 1, _fin_round2, deterministic=True)
