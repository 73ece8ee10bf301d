"""The subsidy of every settlement of a range of loans, as two set-based SQL statements (DOMAIN §6).

This module is the one place the subsidy rule lives. For one settlement paid by the borrower:

    subsidy = round_half_up( min( interest paid × subsidized principal ÷ principal,
                                  subsidized principal × min(contract rate, cap rate) × days ÷ 360 )
                             × subsidy share, 2)

where `days` are the days of the period inside the support period (which runs `subsidy_years`
from the disbursement of the chain's first loan, DOMAIN §6, P1 art.24), the cap rate is the
profile's rate basis in force on the period's first day for the loan's term, and the subsidized
principal is what is left of the household's cap after the household's earlier loans open in the
period. Penalty and compound interest are a separate column and never enter. Days count as in
loans/interest.py: start day counted, end day not (算头不算尾). Multiplications come before the
one division of each term, so PostgreSQL's numeric keeps every digit up to the final rounding.

Written for PostgreSQL (production, tests, the benchmark). The embedded SQLite of `make run`
gets the same statements through the small dialect table below; it computes in floating point,
which is good enough for demo data and is why money is never signed off on SQLite.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from loans.models import Loan

from .models import WAITING_REASONS, ExcludedReason

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
    },
    "sqlite": {
        "least": "MIN",
        "greatest": "MAX",
        "days": "CAST(julianday({a}) - julianday({b}) AS INTEGER)",
        "plus_years": "date({d}, '+' || {n} || ' years')",
        "local_date": "date({ts}, '+8 hours')",
        "true": "1",
        "false": "0",
        "key_share": "",
        "fence": "",
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
    # Settlements due on or before this are no longer considered: a year before the batch's year.
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
            "lo": lo,
            "hi": hi,
            **{f"w_{i}": reason.value for i, reason in enumerate(WAITING_REASONS)},
        }


# The rate tenor of a loan term, as policies.selectors.tenor_for decides it (a test holds them
# equal for every term).
_TENOR_SQL = """CASE
    WHEN %(basis)s = 'lpr' THEN (CASE WHEN l.term_months <= 12 THEN 'lpr1y' ELSE 'lpr5y' END)
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
    paid_on, days, principal, subsidized_principal, contract_rate, cap_rate, rate_used, interest_paid,
    penalty_paid, subsidy, excluded_reason, claimed"""


def settlement_lines_sql(villages: list[int]) -> str:
    """INSERT … SELECT of one line per settlement due in or before the quarter and not already
    decided by a line of any batch."""
    d = _dialect()
    fence = d["fence"]
    open_states = ", ".join(f"'{state}'" for state in Loan.OPEN_STATES)
    least, greatest = d["least"], d["greatest"]
    support_end = d["plus_years"].format(d="s1.support_start", n="%(years)s")
    days_in = d["days"].format(
        a=f"{least}(s1.period_end, {support_end})", b=f"{greatest}(s1.period_start, s1.support_start)"
    )
    added = d["local_date"].format(ts="b.added_at")
    removed = d["local_date"].format(ts="b.removed_at")
    waiting = ", ".join(f"%(w_{i})s" for i in range(len(WAITING_REASONS)))
    R = ExcludedReason
    return f"""
INSERT INTO subsidies_subsidyline ({_LINE_COLUMNS})
SELECT %(batch)s, f.loan_id, f.household_id, f.village_id, f.settlement_id, f.period_start, f.period_end,
       f.paid_on, f.days, f.principal, f.subsidized_principal, f.contract_rate, f.cap_rate, f.rate_used,
       f.interest_paid, f.penalty_paid,
       CASE WHEN f.reason = '' THEN f.amount ELSE 0 END,
       f.reason,
       CASE WHEN f.reason IN ({waiting}) THEN {d["false"]} ELSE {d["true"]} END
FROM (
  SELECT e.*,
    CASE
      WHEN e.paid_on IS NULL OR e.paid_on > %(qend)s THEN '{R.UNPAID}'
      WHEN e.blacklisted_in_period THEN '{R.BLACKLISTED}'
      WHEN e.blacklisted_now THEN '{R.BLACKLISTED_NOW}'
      WHEN e.cap_rate IS NULL THEN '{R.NO_CAP_RATE}'
      WHEN e.days <= 0 THEN '{R.OUTSIDE_SUPPORT}'
      WHEN e.subsidized_principal <= 0 AND e.principal > 0 THEN '{R.OVER_HOUSEHOLD_CAP}'
      WHEN e.interest_paid <= 0 THEN '{R.NOTHING_PAID}'
      WHEN %(share)s <= 0 THEN '{R.NO_SHARE}'
      WHEN e.amount IS NULL OR e.amount <= 0 THEN '{R.BELOW_ONE_CENT}'
      ELSE ''
    END AS reason
  FROM (
    SELECT s2.*,
      CASE WHEN s2.principal > 0 AND s2.rate_used IS NOT NULL AND s2.days > 0 THEN ROUND({least}(
          s2.interest_paid * s2.subsidized_principal * %(share)s / s2.principal,
          s2.subsidized_principal * s2.rate_used * s2.days * %(share)s / 36000), 2)
      END AS amount
    FROM (
      SELECT s1.*,
        -- LEAST in PostgreSQL skips a NULL (MIN in SQLite does not): no cap rate, no rate used.
        CASE WHEN s1.cap_rate IS NOT NULL THEN {least}(s1.contract_rate, s1.cap_rate) END AS rate_used,
        {greatest}({days_in}, 0) AS days,
        {least}(s1.principal, {greatest}(%(hcap)s - s1.ahead, 0)) AS subsidized_principal
      FROM (
        SELECT l.id AS loan_id, l.household_id, h.village_id, s.id AS settlement_id,
          s.period_start, s.period_end, s.paid_on, s.principal, s.rate AS contract_rate,
          s.interest_paid, s.penalty_paid,
          COALESCE(r.disbursed_on, l.disbursed_on) AS support_start,
          cr.annual_rate AS cap_rate,
          COALESCE((SELECT SUM(o.amount) FROM loans_loan o
             WHERE o.household_id = l.household_id AND o.id <> l.id
               AND (o.disbursed_on < l.disbursed_on OR (o.disbursed_on = l.disbursed_on AND o.id < l.id))
               AND o.disbursed_on < s.period_end
               -- Open in the period; a compensated or written-off loan bears no interest and
               -- uses none of the cap.
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
        -- The cap rate in force on the period's first day: the rate table as [from, next from)
        -- segments, joined once instead of a sorted lookup per settlement.
        LEFT JOIN (SELECT pr.tenor, pr.annual_rate, pr.effective_from,
                     LEAD(pr.effective_from) OVER (PARTITION BY pr.tenor ORDER BY pr.effective_from) AS until
                   FROM policies_rate pr WHERE pr.kind = %(basis)s) cr
          ON cr.tenor = ({_TENOR_SQL}) AND cr.effective_from <= s.period_start
             AND (cr.until IS NULL OR s.period_start < cr.until)
        WHERE {_in_chunk(villages)}
          AND s.period_end > %(lookback)s AND s.period_end <= %(qend)s
          AND NOT EXISTS (SELECT 1 FROM subsidies_subsidyline x WHERE x.settlement_id = s.id AND x.claimed)
        {fence}
      ) s1
      {fence}
    ) s2
    {fence}
  ) e
) f"""


def loan_lines_sql(villages: list[int]) -> str:
    """INSERT … SELECT of one line for each loan open during the quarter that gets no settlement
    line: so every loan considered has a line saying why it has no subsidy.

    Runs before settlement_lines_sql, and asks the same question it does: a loan gets a settlement
    line exactly when one of its settlements is due in the window and not claimed. (Asking for
    this batch's lines instead depends on statistics of a table the batch is filling, which once
    led the planner to compare every loan of a chunk with every line of it.) No range on s here,
    unlike there: with it the planner expects nearly every loan to have no settlement, and reads
    every household of the county to join them."""
    d = _dialect()
    open_states = ", ".join(f"'{state}'" for state in Loan.OPEN_STATES)
    return f"""
INSERT INTO subsidies_subsidyline ({_LINE_COLUMNS})
SELECT %(batch)s, l.id, l.household_id, h.village_id, NULL, NULL, NULL, NULL, 0, l.amount, 0,
       l.rate, NULL, NULL, 0, 0, 0, '{ExcludedReason.NO_SETTLEMENT}', {d["false"]}
{_COUNTY_LOANS}
WHERE {_in_chunk(villages)}
  AND l.disbursed_on <= %(qend)s
  AND ((l.settled_on IS NULL AND l.state IN ({open_states})) OR l.settled_on >= %(qstart)s)
  AND NOT EXISTS (SELECT 1 FROM loans_settlement s
    WHERE s.loan_id = l.id AND s.period_end > %(lookback)s AND s.period_end <= %(qend)s
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
            for setting in _CHUNK_SETTINGS:
                cursor.execute(setting)
        cursor.execute(delete_lines_sql(), values)
        # Loan lines first: they ask which settlements are still unclaimed, before this chunk
        # claims them.
        cursor.execute(loan_lines_sql(villages), values)
        written = cursor.rowcount
        cursor.execute(settlement_lines_sql(villages), values)
        written += cursor.rowcount
    return written


# For the chunk's transaction only (PostgreSQL).
_CHUNK_SETTINGS = (
    # A chunk reads its thousands of rows by key from tables that are in memory. With the default
    # (4, for spinning disks) the planner reads a whole table per chunk rather than look the rows up.
    "SET LOCAL random_page_cost = 1.1",
    # Compiling a chunk's statements would cost more than it saves (up to seconds when it starts).
    "SET LOCAL jit = off",
)
