"""The existing-loan file (存量贷款) as the bank gives it: its columns and the words its choice
columns take, reading the header and every cell, the checks within one row, and the downloadable
template. Checking the rows against each other and against the database, and writing them, is
imports.py.

The headers and the words in the choice columns are the bank's file format, so they are Chinese
literals, not interface text."""

from __future__ import annotations

import datetime
import io
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.utils.datetime import from_excel

from accounts.models import OrgUnit
from core.tabular import (
    EXCEL_DIGITS,
    MAX_FILE_SIZE,  # noqa: F401 (the upload form states it)
    FileRefused,
    RowError,
    file_too_large_message,  # noqa: F401 (the upload form's message)
    header_map,
    read_table,
)
from core.tabular import CellError as _CellError
from core.tabular import cell_date as _date
from core.tabular import cell_money as _money
from core.tabular import cell_text as _text
from core.tabular import is_blank as _blank
from core.tabular import is_number as _is_number
from core.tabular import normalise as _normalise
from households import idnumbers
from households.models import Household, Member

from ..choices import UseMode
from ..models import Loan
from ..purposes import Purpose

MAX_ROWS = 5_000
HEADER_SEARCH_ROWS = 10
MAX_RATE = Decimal("36")
# Excel's serial day numbers for 1954 … 2119: a date cell saved as General arrives as one of these.
EXCEL_SERIALS = (20000, 80000)
SCIENTIFIC = re.compile(r"^\d(\.\d+)?E\+?\d+$", re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    aliases: tuple[str, ...] = ()
    required: bool = False


COLUMNS = (
    Column("registration_no", "户编号", ("registration_no", "household", "户籍编号")),
    Column("id_number", "借款人身份证号", ("id_number", "borrower_id_number", "身份证号", "身份证号码")),
    Column("contract_no", "借款合同编号", ("contract_no", "合同编号"), True),
    Column("receipt_no", "借据号", ("receipt_no", "借据编号"), True),
    Column("amount", "贷款金额", ("amount", "金额"), True),
    Column("rate", "年利率(%)", ("rate", "年利率", "年利率%"), True),
    Column("rate_basis", "利率基准", ("rate_basis",)),
    Column("disbursed_on", "发放日期", ("disbursed_on", "放款日期"), True),
    Column("maturity_on", "到期日期", ("maturity_on", "到期日"), True),
    Column("outstanding", "贷款余额", ("outstanding", "余额"), True),
    Column("use_mode", "使用方式", ("use_mode",), True),
    Column("entity_name", "合作主体", ("entity_name",)),
    Column("purpose", "贷款用途", ("purpose_category", "purpose")),
    Column("settled_on", "结清日期", ("settled_on",)),
    Column("account_no", "还款账号", ("account_no", "账号", "结息账号", "借款人账号")),
)
BY_KEY = {c.key: c for c in COLUMNS}

RATE_BASIS_WORDS = {"基准利率": "benchmark", "benchmark": "benchmark", "LPR": "lpr", "lpr": "lpr"}
USE_MODE_WORDS = {
    "户借户用户还": UseMode.SELF,
    "self": UseMode.SELF,
    "户贷企用": UseMode.ENTRUSTED,
    "entrusted": UseMode.ENTRUSTED,
    "间接带动": UseMode.INDIRECT,
    "indirect": UseMode.INDIRECT,
}
# The purpose column takes the code or the Chinese label the pages show.
PURPOSE_WORDS = {
    "种植": Purpose.PLANTING,
    "种植业": Purpose.PLANTING,
    "养殖": Purpose.BREEDING,
    "养殖业": Purpose.BREEDING,
    "乡村旅游": Purpose.RURAL_TOURISM,
    "修理、加工、餐饮或小商店": Purpose.SERVICES,
    "服务业": Purpose.SERVICES,
    "购销": Purpose.TRADING,
    "购销业": Purpose.TRADING,
}


# ---------------------------------------------------------------------------------------------
# The rows read, and the preview of the file


@dataclass
class LoanRow:
    """One loan of the file, checked and ready to be created."""

    row: int
    values: dict = field(default_factory=dict)
    household: Household | None = None
    borrower: Member | None = None
    branch: OrgUnit | None = None
    # The rate table the loan is priced on: the file's 利率基准, or the county's rule (DOMAIN §5).
    rate_basis: str = ""
    ok: bool = True

    @property
    def state(self) -> str:
        return Loan.State.SETTLED if self.values.get("outstanding") == 0 else Loan.State.ACTIVE

    @property
    def state_label(self) -> str:
        return Loan.State(self.state).label


@dataclass
class LoanImportPreview:
    loans: list[LoanRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # Things a reviewer should look at before confirming; they do not stop the import.
    warnings: list[RowError] = field(default_factory=list)
    rows: int = 0
    sheet: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.loans)

    @property
    def settled_count(self) -> int:
        return sum(1 for loan in self.loans if loan.state == Loan.State.SETTLED)

    @property
    def total_amount(self) -> Decimal:
        return sum((loan.values.get("amount") or Decimal("0") for loan in self.loans), Decimal("0"))

    @property
    def total_outstanding(self) -> Decimal:
        return sum((loan.values.get("outstanding") or Decimal("0") for loan in self.loans), Decimal("0"))

    def counts(self) -> dict:
        return {
            "rows": self.rows,
            "loans": len(self.loans),
            "settled": self.settled_count,
            "amount": str(self.total_amount),
            "outstanding": str(self.total_outstanding),
        }


# ---------------------------------------------------------------------------------------------
# The header


def _is_header(cells) -> bool:
    return len(header_map(cells, COLUMNS)[0]) >= 3


# ---------------------------------------------------------------------------------------------
# Cells


def _code(raw, column: str) -> str:
    """A number that must survive digit for digit (registration, contract, receipt numbers)."""
    if _is_number(raw) and abs(raw) >= 10**EXCEL_DIGITS:
        raise _CellError(_number_cell_message(column), "number_cell")
    text = _normalise(_text(raw))
    if SCIENTIFIC.match(text):
        raise _CellError(_number_cell_message(column), "number_cell")
    return text


def _number_cell_message(column: str) -> str:
    return _(
        "“%(column)s” is a number cell and Excel keeps only 15 significant digits; "
        "set the column to Text and type the values again."
    ) % {"column": column}


def _id_number(raw) -> str:
    column = BY_KEY["id_number"].header
    # Never converted: the digits Excel dropped cannot be recovered (DOMAIN §2).
    if _is_number(raw) or SCIENTIFIC.match(_normalise(_text(raw))):
        raise _CellError(_number_cell_message(column), "id_not_text")
    try:
        return idnumbers.parse(_normalise(_text(raw))).number
    except Exception as e:  # ValidationError, with the rule that failed
        messages = getattr(e, "messages", [str(e)])
        raise _CellError("；".join(messages), getattr(e, "code", None) or "invalid") from None


def _loan_date(raw) -> datetime.date:
    if _is_number(raw) and EXCEL_SERIALS[0] <= raw <= EXCEL_SERIALS[1]:
        return from_excel(raw).date()
    return _date(raw)


def _rate(raw) -> Decimal:
    text = _normalise(_text(raw)).removesuffix("%")
    try:
        value = Decimal(str(raw)) if _is_number(raw) else Decimal(text)
    except InvalidOperation:
        raise _CellError(
            _("“%(value)s” is not a rate; write it like 4.35.") % {"value": _text(raw)}
        ) from None
    if not value.is_finite() or not (0 < value < MAX_RATE):
        raise _CellError(
            _("The annual rate must be above 0 and below %(max)s (per cent, e.g. 4.35).") % {"max": MAX_RATE},
            "invalid_rate",
        )
    return value.quantize(Decimal("0.0001"))


def _word(raw, words: dict) -> str:
    text = _normalise(_text(raw))
    for word, value in words.items():
        if text == _normalise(word) or text.lower() == word.lower():
            return value
    shown = list(dict.fromkeys(w for w in words if not w.isascii()))
    raise _CellError(
        _("“%(value)s” is not one of: %(allowed)s.") % {"value": _text(raw), "allowed": "、".join(shown)},
        "invalid_choice",
    )


def _purpose(raw) -> str:
    text = _normalise(_text(raw))
    if text in Purpose.values:
        return text
    for value, label in Purpose.choices:
        if text == _normalise(str(label)):
            return value
    if text in PURPOSE_WORDS:
        return PURPOSE_WORDS[text]
    raise _CellError(
        _("“%(value)s” is not one of: %(allowed)s.")
        % {"value": _text(raw), "allowed": "、".join(PURPOSE_WORDS)},
        "invalid_choice",
    )


def _plain_text(max_length: int):
    def read(raw) -> str:
        text = _text(raw)
        if len(text) > max_length:
            raise _CellError(_("At most %(n)d characters.") % {"n": max_length})
        return text

    return read


READERS = {
    "registration_no": lambda raw: _code(raw, BY_KEY["registration_no"].header),
    "id_number": _id_number,
    "contract_no": lambda raw: _code(raw, BY_KEY["contract_no"].header),
    "receipt_no": lambda raw: _code(raw, BY_KEY["receipt_no"].header),
    "amount": _money,
    "rate": _rate,
    "rate_basis": lambda raw: _word(raw, RATE_BASIS_WORDS),
    "disbursed_on": _loan_date,
    "maturity_on": _loan_date,
    "outstanding": _money,
    "use_mode": lambda raw: _word(raw, USE_MODE_WORDS),
    "entity_name": _plain_text(200),
    "purpose": _purpose,
    "settled_on": _loan_date,
    "account_no": lambda raw: _code(raw, BY_KEY["account_no"].header),
}


def column_error(row: int | None, key: str, message, code: str = "invalid") -> RowError:
    return RowError(row, BY_KEY[key].header if key else "", str(message), code)


def _parse_row(number: int, raw: dict, errors: list[RowError]) -> LoanRow:
    row = LoanRow(number)
    bad = set()
    for key, value in raw.items():
        if _blank(value):
            continue
        try:
            row.values[key] = READERS[key](value)
        except _CellError as e:
            errors.append(column_error(number, key, e.message, e.code))
            bad.add(key)
    for column in COLUMNS:
        if column.required and column.key not in row.values and column.key not in bad:
            errors.append(column_error(number, column.key, _("This cell is required."), "required"))
            bad.add(column.key)
    if "registration_no" not in raw or _blank(raw.get("registration_no")):
        if _blank(raw.get("id_number")):
            errors.append(
                column_error(
                    number, "registration_no", _("Give the household number or the borrower's ID number.")
                )
            )
            bad.add("registration_no")
    row.ok = not bad
    _check_row(row, errors)
    return row


def _check_row(row: LoanRow, errors: list[RowError]) -> None:
    """The rules within one row."""
    v = row.values
    n = row.row

    def fail(key, message, code="invalid"):
        errors.append(column_error(n, key, message, code))
        row.ok = False

    amount, outstanding = v.get("amount"), v.get("outstanding")
    if amount is not None and amount <= 0:
        fail("amount", _("The amount must be above 0."), "invalid_amount")
    if outstanding is not None and outstanding < 0:
        fail("outstanding", _("The outstanding principal cannot be negative."), "invalid_amount")
    elif amount is not None and outstanding is not None and outstanding > amount:
        fail("outstanding", _("The outstanding principal cannot exceed the amount."), "invalid_amount")
    disbursed, maturity = v.get("disbursed_on"), v.get("maturity_on")
    if disbursed and maturity and maturity <= disbursed:
        fail("maturity_on", _("The maturity date must be after the disbursement date."), "invalid_dates")
    settled = v.get("settled_on")
    if settled is not None:
        if outstanding is not None and outstanding > 0:
            fail(
                "settled_on",
                _("A settlement date is given but the outstanding principal is not 0."),
                "invalid_dates",
            )
        elif disbursed and settled < disbursed:
            fail("settled_on", _("The settlement date is before the disbursement date."), "invalid_dates")
    if v.get("use_mode") in (UseMode.ENTRUSTED, UseMode.INDIRECT) and not v.get("entity_name"):
        fail("entity_name", _("Name the cooperative or entrusted entity for this use mode."), "required")


# ---------------------------------------------------------------------------------------------
# Reading the file


def read_file(file, filename: str, preview: LoanImportPreview) -> list[LoanRow]:
    """The rows of the file, CSV or XLSX by its content, bounded before and while they are read
    (core/tabular.py): a refusal of the whole file is the only error then."""
    try:
        with read_table(
            file, is_header=_is_header, max_rows=MAX_ROWS, all_sheets=True, search_rows=HEADER_SEARCH_ROWS
        ) as table:
            return _read_table(table, preview)
    except FileRefused as e:
        preview.errors = [e.row_error()]
        return []


def _read_table(table, preview: LoanImportPreview) -> list[LoanRow]:
    errors = preview.errors
    if table is None:
        errors.append(
            RowError(
                None,
                "",
                _(
                    "No header row found in the first %(n)d rows. The header row must name the "
                    "columns, for example %(columns)s; download the template to see the layout."
                )
                % {
                    "n": HEADER_SEARCH_ROWS,
                    "columns": "、".join(f"「{c.header}」" for c in COLUMNS if c.required),
                },
                "bad_file",
            )
        )
        return []
    preview.sheet = table.sheet
    header_row = table.header_row
    columns, twice = header_map(table.header, COLUMNS)
    for header in twice:
        errors.append(
            RowError(
                header_row,
                header,
                _("This column appears twice in the header row; keep one."),
                "duplicate_column",
            )
        )
    missing = [c for c in COLUMNS if c.required and c.key not in columns]
    if "registration_no" not in columns and "id_number" not in columns:
        missing.insert(0, BY_KEY["registration_no"])
    for column in missing:
        errors.append(
            RowError(
                header_row,
                column.header,
                _("This required column is missing from the header row."),
                "missing_column",
            )
        )
    if missing or twice:
        return []
    rows = []
    # Streamed: the reader refuses the file past MAX_ROWS rows after the header, blank ones too.
    for number, cells_row in table.rows:
        raw = {key: (cells_row[i] if i < len(cells_row) else None) for key, i in columns.items()}
        if all(_blank(v) for v in raw.values()):
            continue
        rows.append(_parse_row(number, raw, errors))
    if not rows:
        errors.append(RowError(None, "", _("The file has a header row but no data rows."), "empty"))
    return rows


# ---------------------------------------------------------------------------------------------
# The template


HELP = {
    "registration_no": "户编号与借款人身份证号至少填一项；只填户编号时，借款人为户主",
    "id_number": "18 位身份证号，单元格须为文本格式",
    "rate": "合同约定的年利率，百分数，如 4.35；与利率表不一致时预览会提示，但按此利率导入",
    "rate_basis": (
        "基准利率 或 LPR；不填时按本县政策和发放日期（合同日期）推定："
        "按 LPR 定价的县，2019-08-20 及以后签订的按 LPR，之前的按基准利率"
    ),
    "disbursed_on": "如 2020-03-15",
    "maturity_on": "须晚于发放日期",
    "outstanding": "0 到贷款金额之间；为 0 表示已结清",
    "use_mode": "户借户用户还、户贷企用 或 间接带动；2017-12-07 以后发放的户贷企用贷款不能导入",
    "entity_name": "户贷企用、间接带动时必填",
    "purpose": "如 种植、养殖、乡村旅游、服务业、购销",
    "settled_on": "仅余额为 0 时填写；不填则按到期日期",
    "account_no": "借款人结息、还款账号，贴息资金拨付到此账号；单元格须为文本格式",
}


def import_template() -> bytes:
    """An empty sheet with the headers, the code columns formatted as Text, and one example row."""
    wb = Workbook()
    ws = wb.active
    ws.title = "存量贷款"
    ws.append([c.header for c in COLUMNS])
    help_ws = wb.create_sheet("填写说明")
    help_ws.append(["列", "必填", "说明"])
    for column in COLUMNS:
        help_ws.append([column.header, "是" if column.required else "", HELP.get(column.key, "")])
    help_ws.column_dimensions["C"].width = 70
    for index, column in enumerate(COLUMNS, start=1):
        letter = ws.cell(row=1, column=index).column_letter
        ws.column_dimensions[letter].width = max(12, math.ceil(len(column.header) * 2.2))
        if column.key in ("registration_no", "id_number", "contract_no", "receipt_no", "account_no"):
            for cell in ws[letter]:
                cell.number_format = "@"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
