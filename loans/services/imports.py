"""Import of existing loans (存量贷款) from the bank's books: a CSV (UTF-8, with or without BOM,
or GBK) or an XLSX sheet, one loan a row, with Chinese headers (the English field names are
accepted too).

It follows the household import (households/excel.py) with the shared cell readers of
core/tabular.py: every row is
checked and every problem reported at once (row number, column, message); nothing is written
unless no row failed, and then every loan is written in one transaction. The headers and the
words in the choice columns are the bank's file format, so they are Chinese literals, not
interface text."""

from __future__ import annotations

import datetime
import io
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.utils.datetime import from_excel

from accounts.models import OrgUnit, Role
from accounts.scoping import village_q
from core.audit import audit
from core.exceptions import ApplicationError, NotPermitted
from core.tabular import (
    EXCEL_DIGITS,
    MAX_FILE_SIZE,  # noqa: F401 (the upload form states it)
    FileRefused,
    RowError,
    file_too_large_message,  # noqa: F401 (the upload form's message)
    read_table,
)
from core.tabular import CellError as _CellError
from core.tabular import cell_date as _date
from core.tabular import cell_money as _money
from core.tabular import cell_text as _text
from core.tabular import header_key as _header_key
from core.tabular import is_blank as _blank
from core.tabular import is_number as _is_number
from core.tabular import normalise as _normalise
from households import idnumbers
from households.models import Household, Member
from policies.exceptions import PolicyProfileMissing, RateMissing
from policies.selectors import contract_rate_for, profile_for, rate_kind_for

from ..eligibility import SOURCES
from ..models import Loan, UseMode
from ..purposes import Purpose

MAX_ROWS = 5_000
HEADER_SEARCH_ROWS = 10
QUERY_CHUNK = 900
MAX_RATE = Decimal("36")
# The bank's rate and the rate table's may differ by rounding in the last stored place only.
RATE_TOLERANCE = Decimal("0.0001")
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
# Results


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


def error_rows(errors: list[RowError]) -> list[dict]:
    return [{"row": e.row, "column": e.column, "message": e.message} for e in errors]


class LoanImportRejected(ApplicationError):
    """The file has errors; nothing was written. The errors are on `preview`."""

    def __init__(self, preview: LoanImportPreview):
        super().__init__(
            _("The file has %(n)d errors; nothing was imported.") % {"n": len(preview.errors)},
            "invalid",
            {"rows": error_rows(preview.errors)},
        )
        self.preview = preview


def can_import_loans(user) -> bool:
    """Loan officers (for the townships their branch serves) and administrators."""
    return getattr(user, "is_authenticated", False) and user.has_role(Role.LOAN_OFFICER, Role.ADMIN)


def check_import_allowed(user) -> None:
    if not can_import_loans(user):
        raise NotPermitted(_("Only loan officers and administrators may import existing loans."))


# ---------------------------------------------------------------------------------------------
# The header


def _is_header(cells) -> bool:
    return len(_header_map(cells)[0]) >= 3


def _header_map(cells) -> tuple[dict[str, int], list[str]]:
    lookup = {}
    for column in COLUMNS:
        for name in (column.header, *column.aliases):
            lookup[_header_key(name)] = column.key
    found: dict[str, int] = {}
    twice = []
    for index, text in enumerate(cells):
        key = lookup.get(_header_key(text))
        if key is None:
            continue
        if key in found:
            twice.append(BY_KEY[key].header)
        else:
            found[key] = index
    return found, twice


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


def _error(row: int | None, key: str, message, code: str = "invalid") -> RowError:
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
            errors.append(_error(number, key, e.message, e.code))
            bad.add(key)
    for column in COLUMNS:
        if column.required and column.key not in row.values and column.key not in bad:
            errors.append(_error(number, column.key, _("This cell is required."), "required"))
            bad.add(column.key)
    if "registration_no" not in raw or _blank(raw.get("registration_no")):
        if _blank(raw.get("id_number")):
            errors.append(
                _error(number, "registration_no", _("Give the household number or the borrower's ID number."))
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
        errors.append(_error(n, key, message, code))
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
# Checks across rows and against the database


def _chunks(items: list, size: int = QUERY_CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _check_numbers(rows: list[LoanRow], errors: list[RowError]) -> None:
    """Contract and receipt numbers: once in the file and not yet in the system."""
    for key, field_name in (("contract_no", "contract_no"), ("receipt_no", "receipt_no")):
        first: dict[str, int] = {}
        for row in rows:
            number = row.values.get(key)
            if not number:
                continue
            if number in first:
                errors.append(
                    _error(
                        row.row,
                        key,
                        _("“%(value)s” is also on row %(row)d.") % {"value": number, "row": first[number]},
                        "duplicate_in_file",
                    )
                )
                row.ok = False
            else:
                first[number] = row.row
        existing: set[str] = set()
        for chunk in _chunks(list(first)):
            existing.update(
                Loan.objects.filter(**{f"{field_name}__in": chunk}).values_list(field_name, flat=True)
            )
        for row in rows:
            number = row.values.get(key)
            if number in existing:
                errors.append(
                    _error(
                        row.row,
                        key,
                        _("A loan with “%(value)s” is already in the system.") % {"value": number},
                        "duplicate",
                    )
                )
                row.ok = False


def _resolve_people(rows: list[LoanRow], user, errors: list[RowError]) -> None:
    """Household and borrower of each row, looked up in the user's area only. A household or a
    member outside it is not found, exactly as one that is not registered at all: the same message,
    the same code, the same queries. So a file cannot be used to learn whether an ID number is
    registered in another area, or who belongs to which household there (PIPL art. 28, 51)."""
    regs = sorted({r.values["registration_no"] for r in rows if r.values.get("registration_no")})
    hashes = {r.row: idnumbers.lookup_hash(r.values["id_number"]) for r in rows if r.values.get("id_number")}

    households: dict[str, Household] = {}
    in_area = Household.objects.filter(village_q(user, "village"))
    for chunk in _chunks(regs):
        for h in in_area.filter(registration_no__in=chunk).select_related("village__parent"):
            households[h.registration_no] = h
    members: dict[str, Member] = {}
    members_in_area = Member.objects.filter(village_q(user, "household__village"))
    for chunk in _chunks(sorted(set(hashes.values()))):
        for m in members_in_area.filter(id_number_hash__in=chunk).select_related(
            "household__village__parent"
        ):
            members[m.id_number_hash] = m
    household_ids = {h.pk for h in households.values()} | {m.household_id for m in members.values()}
    heads = {}
    for chunk in _chunks(sorted(household_ids)):
        heads.update((m.household_id, m) for m in Member.objects.filter(household_id__in=chunk, is_head=True))

    for row in rows:
        reg = row.values.get("registration_no")
        household = borrower = None
        if reg:
            household = households.get(reg)
            if household is None:
                errors.append(
                    _error(
                        row.row,
                        "registration_no",
                        _("No household in your area is registered under “%(value)s”.") % {"value": reg},
                        "unknown_household",
                    )
                )
                row.ok = False
                continue
        if row.row in hashes:
            borrower = members.get(hashes[row.row])
            if borrower is None:
                errors.append(
                    _error(
                        row.row,
                        "id_number",
                        _("No household member in your area is registered with this ID number."),
                        "unknown_borrower",
                    )
                )
                row.ok = False
                continue
            if household is not None and borrower.household_id != household.pk:
                errors.append(
                    _error(
                        row.row,
                        "id_number",
                        _("The borrower is not a member of household %(household)s.") % {"household": reg},
                        "not_a_member",
                    )
                )
                row.ok = False
                continue
            household = borrower.household
        elif household is not None:
            borrower = heads.get(household.pk)
            if borrower is None:
                errors.append(
                    _error(
                        row.row,
                        "registration_no",
                        _("The household has no head; give the borrower's ID number."),
                        "no_head",
                    )
                )
                row.ok = False
                continue
        if household is None:
            continue
        row.household, row.borrower = household, borrower


def _resolve_branches(rows: list[LoanRow], user, errors: list[RowError]) -> None:
    """The branch serving the household's township; the importing officer's own when it does."""
    townships = {r.household.village.parent_id for r in rows if r.household is not None}
    serving: dict[int, list[OrgUnit]] = defaultdict(list)
    through = OrgUnit.served_townships.through
    links = through.objects.filter(to_orgunit_id__in=townships).select_related("from_orgunit")
    for link in sorted(links, key=lambda x: (x.from_orgunit.code, x.from_orgunit_id)):
        serving[link.to_orgunit_id].append(link.from_orgunit)
    own = user.unit if getattr(user.unit, "kind", None) == OrgUnit.Kind.BRANCH else None
    for row in rows:
        if row.household is None:
            continue
        branches = serving.get(row.household.village.parent_id, [])
        if own is not None and any(b.pk == own.pk for b in branches):
            row.branch = own
        elif branches:
            row.branch = branches[0]
        else:
            errors.append(
                _error(
                    row.row,
                    "registration_no" if row.values.get("registration_no") else "id_number",
                    _("No bank branch serves this household's township."),
                    "no_branch",
                )
            )
            row.ok = False


def _percent(value: Decimal) -> str:
    """4.3500 → 4.35, 10.0000 → 10: as the rate is written in a contract."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _check_policy(rows: list[LoanRow], errors: list[RowError], warnings: list[RowError]) -> None:
    """The rules of the county's profile in force on each loan's disbursement date (the contract
    date): the rate basis when the file leaves it blank (DOMAIN §5, from the same selectors that
    price a disbursement), the entrusted-use cutoff (DOMAIN §3), and a warning when the bank's rate
    is not the table's rate for that contract. Profiles and rates are read once per county and
    date (and term), not once per row."""
    counties = OrgUnit.objects.in_bulk(
        {r.household.village.parent.parent_id for r in rows if r.household is not None}
    )
    profiles: dict = {}
    table_rates: dict = {}

    def profile(county_id, on_date):
        key = (county_id, on_date)
        if key not in profiles:
            try:
                profiles[key] = profile_for(county=counties[county_id], on_date=on_date)
            except PolicyProfileMissing:
                # A loan older than the county's first profile (only the first may be back-dated,
                # and a county may start on this system long after its oldest loans): the import
                # is the action, so the profile in force on the day of the import judges it
                # (DOMAIN §10).
                try:
                    profiles[key] = profile_for(county=counties[county_id], on_date=timezone.localdate())
                except PolicyProfileMissing as e:
                    profiles[key] = e
        return profiles[key]

    def table_rate(basis, term, on_date):
        key = (basis, term, on_date)
        if key not in table_rates:
            try:
                table_rates[key] = contract_rate_for(basis=basis, term_months=term, contract_date=on_date)
            except RateMissing:
                # Nothing to compare with; the bank's rate is what the contract says.
                table_rates[key] = None
        return table_rates[key]

    for row in rows:
        v = row.values
        disbursed = v.get("disbursed_on")
        if row.household is None or disbursed is None:
            continue
        given = v.get("rate_basis")
        needs_profile = not given or v.get("use_mode") == UseMode.ENTRUSTED
        p = profile(row.household.village.parent.parent_id, disbursed) if needs_profile else None
        if isinstance(p, PolicyProfileMissing):
            errors.append(_error(row.row, "disbursed_on", p.message, p.code))
            row.ok = False
            continue
        if v.get("use_mode") == UseMode.ENTRUSTED and disbursed > p.entrusted_cutoff:
            errors.append(
                _error(
                    row.row,
                    "use_mode",
                    _(
                        "Entrusting the loan to an enterprise (户贷企用) is forbidden for loans issued after "
                        "%(cutoff)s (%(source)s); this loan was disbursed on %(date)s, so it cannot be "
                        "imported as an entrusted loan."
                    )
                    % {
                        "cutoff": p.entrusted_cutoff.isoformat(),
                        "source": SOURCES["use_mode"],
                        "date": disbursed.isoformat(),
                    },
                    "entrusted_after_cutoff",
                )
            )
            row.ok = False
            continue
        basis = given or p.rate_basis
        row.rate_basis = given or rate_kind_for(basis=basis, contract_date=disbursed)
        maturity, rate = v.get("maturity_on"), v.get("rate")
        if maturity is None or rate is None or maturity <= disbursed:
            continue
        table = table_rate(basis, term_months(disbursed, maturity), disbursed)
        if table is not None and abs(rate - table.annual_rate) > RATE_TOLERANCE:
            warnings.append(
                _error(
                    row.row,
                    "rate",
                    _(
                        "The bank's rate %(rate)s%% is not the %(table)s%% of the rate table for a "
                        "contract of %(date)s (%(tenor)s in force since %(since)s). The loan is imported "
                        "at the bank's rate, which is what the contract says; check that it is right."
                    )
                    % {
                        "rate": _percent(rate),
                        "table": _percent(table.annual_rate),
                        "date": disbursed.isoformat(),
                        "tenor": table.get_tenor_display(),
                        "since": table.effective_from.isoformat(),
                    },
                    "rate_differs",
                )
            )


def _sorted(errors: list[RowError]) -> list[RowError]:
    order = {c.header: i for i, c in enumerate(COLUMNS)}
    unique = list(dict.fromkeys(errors))
    return sorted(unique, key=lambda e: (e.row is not None, e.row or 0, order.get(e.column, -1)))


def _read(file, filename: str, preview: LoanImportPreview) -> list[LoanRow]:
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
    columns, twice = _header_map(table.header)
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


def _check(file, filename: str, user) -> LoanImportPreview:
    preview = LoanImportPreview()
    rows = _read(file, filename, preview)
    preview.rows = len(rows)
    if rows:
        _check_numbers(rows, preview.errors)
        _resolve_people(rows, user, preview.errors)
        _resolve_branches(rows, user, preview.errors)
        _check_policy(rows, preview.errors, preview.warnings)
    preview.loans = rows
    preview.errors = _sorted(preview.errors)
    preview.warnings = _sorted(preview.warnings)
    return preview


def parse_loans(file, filename: str, *, user) -> LoanImportPreview:
    """Read and check every row. Nothing is written."""
    check_import_allowed(user)
    return _check(file, filename, user)


# ---------------------------------------------------------------------------------------------
# Writing


def term_months(disbursed: datetime.date, maturity: datetime.date) -> int:
    """Whole months from disbursement to maturity, a started month counting as one."""
    delta = relativedelta(maturity, disbursed)
    months = delta.years * 12 + delta.months
    return max(1, months + (1 if delta.days > 0 else 0))


def _loan(row: LoanRow, acting_user) -> Loan:
    v = row.values
    settled = v["outstanding"] == 0
    return Loan(
        household=row.household,
        borrower=row.borrower,
        branch=row.branch,
        contract_no=v["contract_no"],
        receipt_no=v["receipt_no"],
        amount=v["amount"],
        rate=v["rate"],
        rate_basis=row.rate_basis,
        term_months=term_months(v["disbursed_on"], v["maturity_on"]),
        disbursed_on=v["disbursed_on"],
        maturity_on=v["maturity_on"],
        use_mode=v["use_mode"],
        purpose_category=v.get("purpose", ""),
        outstanding=v["outstanding"],
        # Creation is the lifecycle's start (lifecycle.py): a loan from the bank's books is created
        # active, or settled when nothing is outstanding; a protected state may be given at creation.
        state=Loan.State.SETTLED if settled else Loan.State.ACTIVE,
        settled_on=(v.get("settled_on") or v["maturity_on"]) if settled else None,
        imported=True,
        entity_name=v.get("entity_name", ""),
        account_no=v.get("account_no", ""),
        disbursed_by=None,
    )


@transaction.atomic
def import_loans(*, acting_user, file, filename: str) -> int:
    """Create every loan of the file, or none: any error raises LoanImportRejected with every
    row's problems and writes nothing. Returns the number of loans created."""
    check_import_allowed(acting_user)
    preview = _check(file, filename, acting_user)
    if preview.errors:
        raise LoanImportRejected(preview)
    loans = [_loan(row, acting_user) for row in preview.loans]
    try:
        # A savepoint, so a number taken meanwhile by another import is reported, not a 500.
        with transaction.atomic():
            created = Loan.objects.bulk_create(loans, batch_size=500)
    except IntegrityError:
        preview.errors = [
            RowError(
                None,
                "",
                _(
                    "A contract or receipt number of the file was used by another loan meanwhile; "
                    "upload it again."
                ),
                "duplicate",
            )
        ]
        raise LoanImportRejected(preview) from None
    audit(
        actor=acting_user,
        action="loan.import",
        obj=acting_user.unit or acting_user,
        reason=_("Existing-loan import %(filename)s") % {"filename": filename},
        data={
            "filename": filename,
            "count": len(created),
            "loans": [loan.pk for loan in created],
            "warnings": error_rows(preview.warnings),
        },
    )
    return len(created)


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
