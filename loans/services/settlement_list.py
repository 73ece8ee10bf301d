"""The bank's interest settlement list (结息清单, DOMAIN §5): its columns and downloadable
template, reading and checking it, and importing it. The rules every settlement passes (periods,
the interest check) are in settlements.py.

The settlement list's headers are the file format, not interface text: Chinese literals (and the
API's English names), never translated. Messages about the file are translated as usual.
Importing reports every problem at once (row as the spreadsheet numbers it, column, message) and
writes nothing unless every row is good; the same rows imported again change nothing. A list
counts its end day or not, and whoever uploads it says which (`end_date_counted`)."""

from __future__ import annotations

import bisect
import datetime
import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from core.audit import audit
from core.exceptions import ApplicationError

# The shared reader and cell readers (core/tabular.py), so a list is bounded, and dates and
# amounts are read (and their problems worded), the same way in every file the system takes.
from core.tabular import CellError as _CellError
from core.tabular import FileRefused, RowError, header_map, read_table
from core.tabular import cell_date as _date
from core.tabular import cell_money as _money
from core.tabular import cell_text as _text
from core.tabular import normalise as _normalise

from .. import selectors
from ..interest import period_days
from ..models import Loan, Settlement
from ..permissions import require_servicer
from .settlements import (
    COMPARED,
    INTEREST_TOLERANCE,
    PAID_TOLERANCE,
    _overlap_refused,
    expected_interest,
    interest_needs_review,
    period_text,
)

MAX_ROWS = 20_000
# An inclusive end date is stored as the next day; no settlement ends this late, and the day after
# the last one the calendar type can hold would not exist.
LAST_END_DATE = datetime.date(2100, 1, 1)
HEADER_SEARCH_ROWS = 10
CHUNK = 1000


def convention_text(end_date_counted: bool) -> str:
    """The end-date convention a list was read with, for the preview and the audit."""
    if end_date_counted:
        return _("End date counted (算头算尾): each end date was stored as the next day.")
    return _("End date not counted (算头不算尾): the dates were stored as listed.")


def _overlaps(a_start, a_end, b_start, b_end) -> bool:
    """Two [start, end) periods share at least one day."""
    return a_start < b_end and b_start < a_end


class _Timeline:
    """One loan's periods sorted by start. Kept free of overlaps by its callers (a period is added
    only after `clash` found nothing), so the ends are sorted too and the one period a new one
    could overlap first is the last that starts before the new one ends: one bisect per row,
    whatever the length of the list."""

    def __init__(self):
        self.starts: list[datetime.date] = []
        self.items: list[tuple[datetime.date, datetime.date, object]] = []

    def add(self, start, end, item) -> None:
        index = bisect.bisect_right(self.starts, start)
        self.starts.insert(index, start)
        self.items.insert(index, (start, end, item))

    def clash(self, start, end):
        """The item whose period overlaps [start, end), or None."""
        index = bisect.bisect_left(self.starts, end)
        if index and _overlaps(*self.items[index - 1][:2], start, end):
            return self.items[index - 1][2]
        return None


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool = True

    @property
    def aliases(self) -> tuple[str, ...]:
        """Either the Chinese header or the API's English name identifies a column."""
        return (self.key,)


COLUMNS = (
    Column("contract_no", "借款合同编号"),
    Column("period_start", "计息起日"),
    Column("period_end", "计息止日"),
    Column("principal", "本金"),
    Column("rate", "年利率"),
    Column("interest_due", "应付利息"),
    Column("interest_paid", "实付利息"),
    Column("penalty_paid", "罚息复利", False),
    Column("paid_on", "支付日期", False),
)
BY_KEY = {c.key: c for c in COLUMNS}


# The downloadable template's notes, in the file's own language like its headers.
TEMPLATE_HELP = {
    "contract_no": "与贷款台账中的借款合同编号一致；单元格须为文本格式",
    "period_start": "本期计息的第一天，如 2026-03-20",
    "period_end": "本期的结束日期；止日当天是否计息，上传时选择（见下方“计息止日口径”）",
    "principal": "本期计息本金（元）",
    "rate": "年利率，百分数，如 4.35",
    "interest_due": "本期应付利息（元），按 本金 × 年利率 × 天数 ÷ 360 计算",
    "interest_paid": "借款人实际支付的利息（元），不含罚息、复利；未付填 0",
    "penalty_paid": "罚息、复利（元），不贴息；没有可不填",
    "paid_on": "借款人付息日期；尚未付息时留空",
}
TEMPLATE_NOTES = (
    "计息止日口径（上传时选择，一份清单只能用一种口径）：",
    "· 止日不计息（算头不算尾，本系统的口径）：止日当天的利息算在下一期。"
    "例：计息起日 2026-03-20、计息止日 2026-06-20，共 92 天。",
    "· 止日计息（算头算尾）：止日当天也计息。例：计息起日 2026-03-21、计息止日 2026-06-20，共 92 天；"
    "系统保存为 2026-03-21 至 2026-06-21（不含 06-21）。",
    "同一笔贷款的结息期间不能重叠：与已登记的结息期间重叠的行会被拒绝（同一期间、同样金额再次导入不会重复记账）。",
    "应付利息与 本金 × 年利率 × 天数 ÷ 360 相差超过 {tolerance} 元的结息照常导入，但标记为待复核，"
    "由信贷员确认后才计算贴息。",
)


TEMPLATE_TEXT_ROWS = 1000


def settlement_template() -> bytes:
    """An empty list with the headers, the contract column as Text, and a sheet of notes that
    states the end-date convention and the checks."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "结息清单"
    ws.append([c.header for c in COLUMNS])
    for index, column in enumerate(COLUMNS, start=1):
        letter = ws.cell(row=1, column=index).column_letter
        ws.column_dimensions[letter].width = 16
        if column.key == "contract_no":
            # Text for the whole column (the column's own style, and the first rows explicitly,
            # which WPS reads), so a typed contract number never turns into 2.0251E+11.
            ws.column_dimensions[letter].number_format = "@"
            for row in range(1, TEMPLATE_TEXT_ROWS + 1):
                ws.cell(row=row, column=index).number_format = "@"
    notes = wb.create_sheet("填写说明")
    notes.append(["列", "必填", "说明"])
    for column in COLUMNS:
        notes.append([column.header, "是" if column.required else "", TEMPLATE_HELP.get(column.key, "")])
    notes.append([])
    for line in TEMPLATE_NOTES:
        notes.append([line.format(tolerance=INTEREST_TOLERANCE)])
    notes.column_dimensions["A"].width = 14
    notes.column_dimensions["C"].width = 70
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@dataclass
class SettlementRow:
    number: int
    values: dict  # period_end as stored: the day after the listed one for an inclusive list
    loan: Loan | None = None
    outcome: str = ""  # "created", "paid_late", "unchanged" once checked
    existing: Settlement | None = None
    listed_end: datetime.date | None = None  # 计息止日 as the file has it
    needs_review: bool = False  # a new settlement whose interest differs from the formula's
    expected_interest: Decimal | None = None

    @property
    def days(self) -> int | None:
        if not self.values:
            return None
        return period_days(self.values["period_start"], self.values["period_end"])


@dataclass
class SettlementImportResult:
    end_date_counted: bool = False
    rows: list[SettlementRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    created: int = 0
    updated_paid_late: int = 0
    unchanged: int = 0
    needs_review: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)

    @property
    def flagged(self) -> list[SettlementRow]:
        """New settlements whose interest must be confirmed before they are subsidized."""
        return [r for r in self.rows if r.needs_review]

    @property
    def convention(self) -> str:
        return convention_text(self.end_date_counted)

    def counts(self) -> dict:
        return {
            "created": self.created,
            "updated_paid_late": self.updated_paid_late,
            "unchanged": self.unchanged,
            "needs_review": self.needs_review,
        }


class SettlementImportRejected(ApplicationError):
    """The list has errors; nothing was written. The errors are on `result`."""

    def __init__(self, result: SettlementImportResult):
        super().__init__(
            _("The file has %(n)d errors; nothing was imported.") % {"n": len(result.errors)},
            "invalid",
            {
                "rows": [
                    {"row": e.row, "column": e.column, "message": e.message, "code": e.code}
                    for e in result.errors
                ]
            },
        )
        self.result = result


def _no_header() -> RowError:
    return RowError(
        None,
        "",
        _("No header row found in the first %(n)d rows. The header row must name the columns: %(columns)s.")
        % {"n": HEADER_SEARCH_ROWS, "columns": "、".join(c.header for c in COLUMNS)},
        "bad_file",
    )


def _blank(raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _rate(raw) -> Decimal:
    text = _normalise(_text(raw)).removesuffix("%")
    value = _money(text) if text else None
    if value is None:
        raise _CellError(_("The annual rate is empty."), "required")
    return value


def _parse(number: int, raw: dict, errors: list[RowError], *, end_date_counted: bool) -> dict | None:
    values, ok = {}, True
    for column in COLUMNS:
        cell = raw.get(column.key)
        if _blank(cell):
            if column.required:
                errors.append(RowError(number, column.header, _("This cell is empty."), "required"))
                ok = False
            continue
        try:
            if column.key == "contract_no":
                values[column.key] = _normalise(_text(cell))
            elif column.key in ("period_start", "period_end", "paid_on"):
                values[column.key] = _date(cell)
            elif column.key == "rate":
                values[column.key] = _rate(cell).quantize(Decimal("0.0001"))
            else:
                value = _money(cell)
                if value < 0:
                    raise _CellError(_("The amount cannot be negative."), "negative")
                values[column.key] = value.quantize(Decimal("0.01"))
        except _CellError as e:
            errors.append(RowError(number, column.header, e.message, e.code))
            ok = False
    if not ok:
        return None
    values.setdefault("penalty_paid", Decimal("0.00"))
    values.setdefault("paid_on", None)
    if values["rate"] < 0:
        errors.append(RowError(number, BY_KEY["rate"].header, _("The rate cannot be negative."), "negative"))
        ok = False
    if values["period_end"] < values["period_start"]:
        message = _("The period ends before it starts.")
        errors.append(RowError(number, BY_KEY["period_end"].header, message, "period_order"))
        ok = False
    elif end_date_counted and values["period_end"] >= LAST_END_DATE:
        message = _("The end date %(date)s is not a date a settlement period can end on.") % {
            "date": values["period_end"]
        }
        errors.append(RowError(number, BY_KEY["period_end"].header, message, "invalid_date"))
        ok = False
    elif end_date_counted:
        values["period_end"] += datetime.timedelta(days=1)
    elif values["period_end"] == values["period_start"]:
        message = _(
            "The period has no day of interest: the end date is not counted, as chosen for this list, "
            "and it is the start date."
        )
        errors.append(RowError(number, BY_KEY["period_end"].header, message, "period_empty"))
        ok = False
    if values["interest_paid"] > values["interest_due"] + PAID_TOLERANCE:
        message = _("The interest paid is more than the interest due.")
        errors.append(RowError(number, BY_KEY["interest_paid"].header, message, "overpaid"))
        ok = False
    if values["paid_on"] is None and (values["interest_paid"] or values["penalty_paid"]):
        message = _("An amount was paid but the payment date is empty.")
        errors.append(RowError(number, BY_KEY["paid_on"].header, message, "paid_on_missing"))
        ok = False
    return values if ok else None


def _read_list(file, filename: str, result: SettlementImportResult) -> None:
    """The list's rows, CSV or XLSX by its content (the first sheet), bounded before and while they
    are read (core/tabular.py): a refusal of the whole file is the only error then."""
    try:
        with read_table(
            file,
            is_header=lambda cells: len(header_map(cells, COLUMNS)[0]) >= 3,
            max_rows=MAX_ROWS,
            search_rows=HEADER_SEARCH_ROWS,
        ) as table:
            _read_rows(table, result)
    except FileRefused as e:
        result.rows = []
        result.errors = [e.row_error()]


def _read_rows(table, result: SettlementImportResult) -> None:
    counted = result.end_date_counted
    if table is None:
        result.errors.append(_no_header())
        return
    # A column named twice is read from its first cell.
    columns = header_map(table.header, COLUMNS)[0]
    missing = [c for c in COLUMNS if c.required and c.key not in columns]
    for column in missing:
        message = _("This required column is missing from the header row.")
        result.errors.append(RowError(table.header_row, column.header, message, "missing_column"))
    if missing:
        return
    # Streamed: the reader refuses the file past MAX_ROWS rows after the header, blank ones too.
    for number, cells in table.rows:
        raw = {key: cells[pos] if pos < len(cells) else None for key, pos in columns.items()}
        if all(_blank(v) for v in raw.values()):
            continue
        values = _parse(number, raw, result.errors, end_date_counted=counted)
        listed_end = None
        if values:
            listed_end = values["period_end"] - datetime.timedelta(days=1 if counted else 0)
        result.rows.append(SettlementRow(number, values or {}, listed_end=listed_end))
    if not result.rows:
        result.errors.append(RowError(None, "", _("The file has a header row but no data rows."), "empty"))


def _differences(existing: Settlement, values: dict) -> list[str]:
    return [key for key in COMPARED if getattr(existing, key) != values[key]]


def _check_rows(result: SettlementImportResult, *, user, lock: bool) -> None:
    """Match every parsed row to a loan in the user's area and to what is already recorded."""
    good = [r for r in result.rows if r.values]
    numbers = {r.values["contract_no"] for r in good}
    loans_qs = selectors.loan_list(user=user).filter(contract_no__in=numbers)
    if lock:
        # Two uploads of overlapping lists, or an upload and a settlement entered by hand, wait
        # for each other here: each sees the other's periods before checking for overlaps (the
        # database constraints would otherwise turn the second into an error after the fact).
        loans_qs = loans_qs.select_for_update(of=("self",))
    loans = {loan.contract_no: loan for loan in loans_qs}
    existing: dict[tuple, Settlement] = {}
    recorded: dict[int, _Timeline] = {}
    for s in _recorded_settlements(list(loans.values())):
        existing[(s.loan_id, s.period_start, s.period_end)] = s
        if s.period_end > s.period_start:  # an empty period (older data) holds no day
            recorded.setdefault(s.loan_id, _Timeline()).add(s.period_start, s.period_end, s)
    in_file: dict[int, _Timeline] = {}
    seen: dict[tuple, int] = {}
    for row in good:
        v = row.values
        loan = loans.get(v["contract_no"])
        if loan is None:
            message = _("No loan with contract number “%(no)s” in your area.") % {"no": v["contract_no"]}
            result.errors.append(
                RowError(row.number, BY_KEY["contract_no"].header, message, "unknown_contract")
            )
            continue
        row.loan = loan
        key = (loan.pk, v["period_start"], v["period_end"])
        if key in seen:
            message = _("This period of the contract is already on row %(row)d.") % {"row": seen[key]}
            result.errors.append(RowError(row.number, "", message, "duplicate_row"))
            continue
        seen[key] = row.number
        if v["period_start"] < loan.disbursed_on:
            message = _("The period starts before the loan was disbursed on %(date)s.") % {
                "date": loan.disbursed_on
            }
            result.errors.append(
                RowError(row.number, BY_KEY["period_start"].header, message, "period_outside")
            )
            continue
        old = existing.get(key)
        row.existing = old
        if old is None:
            clash = recorded.get(loan.pk, _Timeline()).clash(v["period_start"], v["period_end"])
            if clash is not None:
                message = _(
                    "The period %(period)s overlaps the settlement already recorded for %(existing)s. "
                    "A day of interest is settled only once: check the end-date convention chosen "
                    "for this list, or correct the recorded settlement."
                ) % {
                    "period": period_text(v["period_start"], v["period_end"]),
                    "existing": period_text(clash.period_start, clash.period_end),
                }
                result.errors.append(RowError(row.number, "", message, "period_overlap"))
                continue
        timeline = in_file.setdefault(loan.pk, _Timeline())
        other = timeline.clash(v["period_start"], v["period_end"])
        if other is not None:
            message = _("The period %(period)s overlaps row %(row)d (%(other)s) of the same contract.") % {
                "period": period_text(v["period_start"], v["period_end"]),
                "row": other.number,
                "other": period_text(other.values["period_start"], other.values["period_end"]),
            }
            result.errors.append(RowError(row.number, "", message, "period_overlap"))
            continue
        timeline.add(v["period_start"], v["period_end"], row)
        if old is None:
            row.outcome = "created"
            if interest_needs_review(v):
                row.needs_review = True
                row.expected_interest = expected_interest(
                    principal=v["principal"], rate=v["rate"], days=row.days
                )
            continue
        diff = _differences(old, v)
        if not diff:
            row.outcome = "unchanged"
        elif (
            old.paid_on is None
            and v["paid_on"] is not None
            and set(diff) <= {"interest_paid", "penalty_paid", "paid_on"}
        ):
            row.outcome = "paid_late"
        else:
            names = "、".join(BY_KEY[k].header for k in diff)
            message = _(
                "Contradicts the settlement already recorded for this period (%(columns)s differ); "
                "it was not changed. Correct it on the manual entry page if the bank's figures changed."
            ) % {"columns": names}
            result.errors.append(RowError(row.number, "", message, "contradiction"))


def _recorded_settlements(loans: list[Loan]) -> QuerySet[Settlement]:
    """The settlements already recorded for these loans, the ones every row is checked against."""
    return Settlement.objects.filter(loan__in=loans).order_by("loan_id", "period_start")


def _tally(result: SettlementImportResult) -> None:
    result.created = sum(r.outcome == "created" for r in result.rows)
    result.updated_paid_late = sum(r.outcome == "paid_late" for r in result.rows)
    result.unchanged = sum(r.outcome == "unchanged" for r in result.rows)
    result.needs_review = sum(r.needs_review for r in result.rows)


def _sorted(errors: list[RowError]) -> list[RowError]:
    order = {c.header: i for i, c in enumerate(COLUMNS)}
    return sorted(
        dict.fromkeys(errors), key=lambda e: (e.row is not None, e.row or 0, order.get(e.column, -1))
    )


def settlement_import_check(*, user, file, filename: str, end_date_counted: bool) -> SettlementImportResult:
    """The preview: every row read and matched, and what importing would do. Writes nothing.
    `end_date_counted`: whether the list's 计息止日 is a day of interest (算头算尾)."""
    result = SettlementImportResult(end_date_counted=bool(end_date_counted))
    _read_list(file, filename, result)
    if not any(e.code in ("bad_file", "missing_column", "too_many_rows") for e in result.errors):
        _check_rows(result, user=user, lock=False)
    _tally(result)
    result.errors = _sorted(result.errors)
    return result


@transaction.atomic
def settlement_import(*, acting_user, file, filename: str, end_date_counted: bool) -> SettlementImportResult:
    """Import a settlement list, all rows or none. New periods are created; a period already
    recorded with the same figures is left as it is ("already imported"); a period recorded as
    unpaid that now arrives paid is updated (paid late), the one change an import may make; any
    other difference is a contradiction and an error, and so is a period that overlaps another
    one of the same loan. `end_date_counted` says whether the list's 计息止日 is a day of interest
    (算头算尾, stored as the next day) or not (算头不算尾, stored as listed); the caller must say.
    New settlements whose interest differs from the formula are stored `needs_review`.
    Raises SettlementImportRejected, or ConflictError `period_overlap` if the database refuses."""
    require_servicer(acting_user)
    result = SettlementImportResult(end_date_counted=bool(end_date_counted))
    _read_list(file, filename, result)
    if not any(e.code in ("bad_file", "missing_column", "too_many_rows") for e in result.errors):
        _check_rows(result, user=acting_user, lock=True)
    if result.errors or not result.rows:
        result.errors = _sorted(result.errors)
        raise SettlementImportRejected(result)
    _tally(result)
    new = [
        Settlement(
            loan=row.loan,
            source=Settlement.Source.IMPORT,
            source_file=filename[:200],
            recorded_by=acting_user,
            needs_review=row.needs_review,
            **{k: v for k, v in row.values.items() if k != "contract_no"},
        )
        for row in result.rows
        if row.outcome == "created"
    ]
    with _overlap_refused():
        Settlement.objects.bulk_create(new, batch_size=CHUNK)
    for row in result.rows:
        if row.outcome != "paid_late":
            continue
        settlement = row.existing
        old = {
            k: str(getattr(settlement, k)) if getattr(settlement, k) is not None else None for k in COMPARED
        }
        for key in ("interest_paid", "penalty_paid", "paid_on"):
            setattr(settlement, key, row.values[key])
        settlement.save(update_fields=["interest_paid", "penalty_paid", "paid_on"])
        audit(
            actor=acting_user,
            action="settlement.paid_late",
            obj=settlement,
            reason=_("Settlement list %(filename)s") % {"filename": filename},
            data={
                "old": old,
                "new": {k: str(row.values[k]) for k in ("interest_paid", "penalty_paid", "paid_on")},
            },
        )
    audit(
        actor=acting_user,
        action="settlement.import",
        obj=acting_user,
        data={"filename": filename, "end_date_counted": result.end_date_counted, **result.counts()},
    )
    return result
