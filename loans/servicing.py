"""Servicing after disbursement (DOMAIN §5): the bank's interest settlement lists (结息清单),
settlements entered or corrected by hand, principal repayments and settlement (结清), and the
daily ageing of overdue loans with the classification floor.

The settlement list's headers are the file format, not interface text: Chinese literals (and the
API's English names), never translated. Messages about the file are translated as usual.
Importing reports every problem at once (row as the spreadsheet numbers it, column, message) and
writes nothing unless every row is good; the same rows imported again change nothing."""

from __future__ import annotations

import csv
import datetime
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from core.audit import audit
from core.exceptions import ApplicationError, ConflictError, NotPermitted

# The shared cell readers (core/tabular.py), so dates and amounts are read (and their problems
# worded) the same way in every file the system takes.
from core.tabular import (
    MAX_FILE_SIZE,
    RowError,
    file_too_large_message,
    unreadable_message,
)
from core.tabular import CellError as _CellError
from core.tabular import cell_date as _date
from core.tabular import cell_money as _money
from core.tabular import cell_text as _text
from core.tabular import normalise as _normalise
from policies.models import PolicyProfile

from . import selectors
from .models import CLASSIFICATION_ORDER, Classification, ClassificationChange, Loan, Repayment, Settlement

logger = logging.getLogger(__name__)

# The bank's system and ours may round a period's interest differently by a fen: a payment up
# to one fen above the interest due is accepted as paid in full, anything more is an error.
PAID_TOLERANCE = Decimal("0.01")
MAX_ROWS = 20_000
HEADER_SEARCH_ROWS = 10
CHUNK = 1000
AUTO_REASON = "按逾期天数自动调整"


def can_service(user) -> bool:
    """Loan officers and administrators record settlements and repayments (DOMAIN §1)."""
    return bool(getattr(user, "is_authenticated", False)) and user.has_role(Role.LOAN_OFFICER, Role.ADMIN)


def not_permitted_message() -> str:
    return _("Only loan officers and administrators may record settlements and repayments.")


def _require_servicer(user) -> None:
    if not can_service(user):
        raise NotPermitted(not_permitted_message())


def _require_in_scope(user, loan: Loan) -> None:
    if not selectors.loan_list(user=user).filter(pk=loan.pk).exists():
        raise NotPermitted(_("This loan is outside your area."))


# ---------------------------------------------------------------------------------------------
# The settlement list


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool = True


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
# Either the Chinese header or the API's English name identifies a column.
HEADER_KEYS = {**{c.header: c.key for c in COLUMNS}, **{c.key: c.key for c in COLUMNS}}
AMOUNTS = ("principal", "interest_due", "interest_paid", "penalty_paid")
COMPARED = ("principal", "rate", "interest_due", "interest_paid", "penalty_paid", "paid_on")


class _FileError(Exception):
    pass


@dataclass
class SettlementRow:
    number: int
    values: dict
    loan: Loan | None = None
    outcome: str = ""  # "created", "paid_late", "unchanged" once checked
    existing: Settlement | None = None


@dataclass
class SettlementImportResult:
    rows: list[SettlementRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    created: int = 0
    updated_paid_late: int = 0
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)

    def counts(self) -> dict:
        return {
            "created": self.created,
            "updated_paid_late": self.updated_paid_late,
            "unchanged": self.unchanged,
        }


class SettlementImportRejected(ApplicationError):
    """The list has errors; nothing was written. The errors are on `result`."""

    def __init__(self, result: SettlementImportResult):
        super().__init__(
            _("The file has %(n)d errors; nothing was imported.") % {"n": len(result.errors)},
            "invalid",
            {"rows": [{"row": e.row, "column": e.column, "message": e.message} for e in result.errors]},
        )
        self.result = result


def _raw_rows(file, filename: str) -> Iterable[tuple]:
    if getattr(file, "size", None) and file.size > MAX_FILE_SIZE:
        raise _FileError(file_too_large_message())
    file.seek(0)
    if filename.lower().endswith(".csv"):
        data = file.read()
        if isinstance(data, str):
            text = data
        else:
            # Excel and WPS on Chinese Windows save CSV in GB18030 (GBK); others in UTF-8.
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                try:
                    text = data.decode("gb18030")
                except UnicodeDecodeError:
                    raise _FileError(_("The CSV file is neither UTF-8 nor GBK text.")) from None
        return [tuple(r) for r in csv.reader(io.StringIO(text))]
    from openpyxl import load_workbook

    try:
        wb = load_workbook(file, read_only=True, data_only=True)
    except Exception:
        raise _FileError(unreadable_message()) from None
    try:
        return [tuple(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    finally:
        wb.close()


def _header(rows: list[tuple]) -> tuple[int, dict[str, int]]:
    for index, cells in enumerate(rows[:HEADER_SEARCH_ROWS]):
        found = {}
        for position, cell in enumerate(cells):
            key = HEADER_KEYS.get(_normalise(str(cell)) if cell is not None else "")
            if key and key not in found:
                found[key] = position
        if len(found) >= 3:
            return index, found
    raise _FileError(
        _("No header row found in the first %(n)d rows. The header row must name the columns: %(columns)s.")
        % {"n": HEADER_SEARCH_ROWS, "columns": "、".join(c.header for c in COLUMNS)}
    )


def _blank(raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def _rate(raw) -> Decimal:
    text = _normalise(_text(raw)).removesuffix("%")
    value = _money(text) if text else None
    if value is None:
        raise _CellError(_("The annual rate is empty."), "required")
    return value


def _parse(number: int, raw: dict, errors: list[RowError]) -> dict | None:
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
    try:
        raw_rows = _raw_rows(file, filename)
        header_index, columns = _header(raw_rows)
    except _FileError as e:
        result.errors.append(RowError(None, "", str(e), "bad_file"))
        return
    missing = [c for c in COLUMNS if c.required and c.key not in columns]
    for column in missing:
        message = _("This required column is missing from the header row.")
        result.errors.append(RowError(header_index + 1, column.header, message, "missing_column"))
    if missing:
        return
    for index in range(header_index + 1, len(raw_rows)):
        cells = raw_rows[index]
        raw = {key: cells[pos] if pos < len(cells) else None for key, pos in columns.items()}
        if all(_blank(v) for v in raw.values()):
            continue
        if len(result.rows) >= MAX_ROWS:
            message = _("The file has more than %(n)d rows; split it into several files.") % {"n": MAX_ROWS}
            result.errors.append(RowError(None, "", message, "too_many_rows"))
            return
        values = _parse(index + 1, raw, result.errors)
        result.rows.append(SettlementRow(index + 1, values or {}))
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
        # Two uploads of overlapping lists wait for each other here instead of both creating
        # the same period (the unique constraint would turn the second into a 500).
        loans_qs = loans_qs.select_for_update(of=("self",))
    loans = {loan.contract_no: loan for loan in loans_qs}
    existing = {
        (s.loan_id, s.period_start, s.period_end): s
        for s in Settlement.objects.filter(loan__in=list(loans.values()))
    }
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
            row.outcome = "created"
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


def _tally(result: SettlementImportResult) -> None:
    result.created = sum(r.outcome == "created" for r in result.rows)
    result.updated_paid_late = sum(r.outcome == "paid_late" for r in result.rows)
    result.unchanged = sum(r.outcome == "unchanged" for r in result.rows)


def _sorted(errors: list[RowError]) -> list[RowError]:
    order = {c.header: i for i, c in enumerate(COLUMNS)}
    return sorted(
        dict.fromkeys(errors), key=lambda e: (e.row is not None, e.row or 0, order.get(e.column, -1))
    )


def settlement_import_check(*, user, file, filename: str) -> SettlementImportResult:
    """The preview: every row read and matched, and what importing would do. Writes nothing."""
    result = SettlementImportResult()
    _read_list(file, filename, result)
    if not any(e.code in ("bad_file", "missing_column", "too_many_rows") for e in result.errors):
        _check_rows(result, user=user, lock=False)
    _tally(result)
    result.errors = _sorted(result.errors)
    return result


@transaction.atomic
def settlement_import(*, acting_user, file, filename: str) -> SettlementImportResult:
    """Import a settlement list, all rows or none. New periods are created; a period already
    recorded with the same figures is left as it is ("already imported"); a period recorded as
    unpaid that now arrives paid is updated (paid late), the one change an import may make; any
    other difference is a contradiction and an error. Raises SettlementImportRejected."""
    _require_servicer(acting_user)
    result = SettlementImportResult()
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
            **{k: v for k, v in row.values.items() if k != "contract_no"},
        )
        for row in result.rows
        if row.outcome == "created"
    ]
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
        data={"filename": filename, **result.counts()},
    )
    return result


# ---------------------------------------------------------------------------------------------
# Settlements by hand


def _settlement_values(values: dict) -> None:
    for key in AMOUNTS:
        if values.get(key) is not None and values[key] < 0:
            raise ApplicationError(_("The amount cannot be negative."), "invalid", field=key)
    if values.get("rate") is not None and values["rate"] < 0:
        raise ApplicationError(_("The rate cannot be negative."), "invalid", field="rate")
    if values["period_end"] < values["period_start"]:
        raise ApplicationError(_("The period ends before it starts."), "invalid", field="period_end")
    if values["interest_paid"] > values["interest_due"] + PAID_TOLERANCE:
        raise ApplicationError(
            _("The interest paid is more than the interest due."), "invalid", field="interest_paid"
        )
    if values["paid_on"] is None and (values["interest_paid"] or values["penalty_paid"]):
        raise ApplicationError(
            _("An amount was paid but the payment date is empty."), "invalid", field="paid_on"
        )
    if values["paid_on"] is not None and values["paid_on"] > timezone.localdate():
        raise ApplicationError(_("The payment date cannot be in the future."), "invalid", field="paid_on")


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Give the reason for entering this by hand."), "invalid", field="reason")
    return reason


@transaction.atomic
def settlement_record_manual(
    *,
    acting_user,
    loan: Loan,
    period_start: datetime.date,
    period_end: datetime.date,
    principal: Decimal,
    rate: Decimal,
    interest_due: Decimal,
    interest_paid: Decimal = Decimal("0"),
    penalty_paid: Decimal = Decimal("0"),
    paid_on: datetime.date | None = None,
    reason: str,
) -> Settlement:
    """A settlement period entered by hand (the list is missing or wrong), with the reason."""
    _require_servicer(acting_user)
    reason = _require_reason(reason)
    loan = Loan.objects.select_for_update().get(pk=loan.pk)
    _require_in_scope(acting_user, loan)
    values = dict(
        period_start=period_start,
        period_end=period_end,
        principal=principal,
        rate=rate,
        interest_due=interest_due,
        interest_paid=interest_paid,
        penalty_paid=penalty_paid,
        paid_on=paid_on,
    )
    _settlement_values(values)
    if Settlement.objects.filter(loan=loan, period_start=period_start, period_end=period_end).exists():
        raise ConflictError(
            _("This period is already recorded; correct the recorded settlement instead."), "duplicate_period"
        )
    settlement = Settlement(
        loan=loan, source=Settlement.Source.MANUAL, reason=reason, recorded_by=acting_user, **values
    )
    settlement.full_clean()
    settlement.save()
    audit(
        actor=acting_user,
        action="settlement.manual",
        obj=settlement,
        reason=reason,
        data={k: str(v) if v is not None else None for k, v in values.items()},
    )
    return settlement


@transaction.atomic
def settlement_correct(*, acting_user, settlement: Settlement, reason: str, **changes) -> Settlement:
    """Correct a recorded settlement's figures (not its period). The audit keeps old and new."""
    _require_servicer(acting_user)
    reason = _require_reason(reason)
    allowed = {"principal", "rate", "interest_due", "interest_paid", "penalty_paid", "paid_on"}
    unknown = set(changes) - allowed
    if unknown:
        raise ApplicationError(
            _("Only the amounts, the rate and the payment date can be corrected."), "invalid"
        )
    settlement = Settlement.objects.select_for_update().select_related("loan").get(pk=settlement.pk)
    _require_in_scope(acting_user, settlement.loan)
    old = {k: getattr(settlement, k) for k in COMPARED}
    values = {**old, **changes, "period_start": settlement.period_start, "period_end": settlement.period_end}
    _settlement_values(values)
    changed = {k: v for k, v in changes.items() if old[k] != v}
    if not changed:
        return settlement
    for key, value in changed.items():
        setattr(settlement, key, value)
    settlement.reason = reason
    settlement.full_clean()
    settlement.save()

    def text(v):
        return str(v) if v is not None else None

    audit(
        actor=acting_user,
        action="settlement.correct",
        obj=settlement,
        reason=reason,
        data={"old": {k: text(old[k]) for k in changed}, "new": {k: text(v) for k, v in changed.items()}},
    )
    return settlement


# ---------------------------------------------------------------------------------------------
# Repayments


@transaction.atomic
def repayment_record(
    *, acting_user, loan: Loan, principal: Decimal, paid_on: datetime.date, note: str = ""
) -> Repayment:
    """A principal repayment. The one that brings the outstanding to zero settles the loan (结清)."""
    _require_servicer(acting_user)
    # The row lock makes two repayments entered at once take turns: the second sees the first's
    # outstanding and cannot repay more than is left.
    loan = Loan.objects.select_for_update().get(pk=loan.pk)
    _require_in_scope(acting_user, loan)
    if loan.state not in Loan.OPEN_STATES:
        raise ConflictError(
            _("This loan is %(state)s; no repayment can be recorded.") % {"state": loan.get_state_display()},
            "loan_closed",
        )
    principal = Decimal(principal)
    if principal <= 0:
        raise ApplicationError(_("The amount repaid must be more than zero."), "invalid", field="principal")
    if principal != principal.quantize(Decimal("0.01")):
        raise ApplicationError(_("Amounts are kept to the fen (two decimals)."), "invalid", field="principal")
    if principal > loan.outstanding:
        raise ApplicationError(
            _("The amount repaid is more than the outstanding principal of %(amount)s.")
            % {"amount": loan.outstanding},
            "invalid",
            field="principal",
        )
    if paid_on < loan.disbursed_on:
        raise ApplicationError(
            _("The repayment date cannot be before the disbursement on %(date)s.")
            % {"date": loan.disbursed_on},
            "invalid",
            field="paid_on",
        )
    if paid_on > timezone.localdate():
        raise ApplicationError(_("The repayment date cannot be in the future."), "invalid", field="paid_on")
    loan.outstanding -= principal
    repayment = Repayment.objects.create(
        loan=loan,
        paid_on=paid_on,
        principal=principal,
        outstanding_after=loan.outstanding,
        reason=note,
        recorded_by=acting_user,
    )
    fields = ["outstanding"]
    if loan.outstanding == 0:
        loan.state = Loan.State.SETTLED
        loan.settled_on = paid_on
        loan.days_past_due = 0
        fields += ["state", "settled_on", "days_past_due"]
    loan.save(update_fields=fields)
    audit(
        actor=acting_user,
        action="loan.repayment",
        obj=loan,
        reason=note,
        data={
            "repayment": repayment.pk,
            "principal": str(principal),
            "outstanding_after": str(loan.outstanding),
        },
    )
    if loan.state == Loan.State.SETTLED:
        audit(actor=acting_user, action="loan.settle", obj=loan, data={"settled_on": paid_on.isoformat()})
    return repayment


# ---------------------------------------------------------------------------------------------
# Overdue ageing and the classification floor


def classification_floor(profile: PolicyProfile, days: int) -> str:
    """The best classification a loan `days` past due may have (DOMAIN §5, 2023 rule)."""
    if days > profile.loss_after_days:
        return Classification.LOSS
    if days > profile.doubtful_after_days:
        return Classification.DOUBTFUL
    if days > profile.substandard_after_days:
        return Classification.SUBSTANDARD
    if days > 0:
        return Classification.SPECIAL_MENTION
    return Classification.NORMAL


def _worse(a: str, b: str) -> str:
    return a if CLASSIFICATION_ORDER.index(a) >= CLASSIFICATION_ORDER.index(b) else b


def _profiles_by_county(on_date: datetime.date) -> dict[int, PolicyProfile]:
    """The profile in force on `on_date` for every county, in one query."""
    found: dict[int, PolicyProfile] = {}
    for profile in PolicyProfile.objects.filter(effective_from__lte=on_date).order_by(
        "county_id", "-effective_from"
    ):
        found.setdefault(profile.county_id, profile)
    return found


def overdue_refresh(*, on_date: datetime.date) -> dict:
    """Days past due, overdue state and the classification floor of every open loan on `on_date`.

    A loan is past due from the earliest day something due was not paid: its principal after
    maturity while any is outstanding, or a settlement period that ended before `on_date` and has
    no payment date. The earliest date comes from one annotated query; only loans whose figures
    change are written, in chunks, so a second run the same day writes nothing."""
    earliest_unpaid = (
        Settlement.objects.filter(loan=OuterRef("pk"), paid_on__isnull=True, period_end__lt=on_date)
        .order_by("period_end")
        .values("period_end")[:1]
    )
    loans = (
        Loan.objects.filter(state__in=Loan.OPEN_STATES)
        .annotate(unpaid_from=Subquery(earliest_unpaid), county_id=F("household__village__parent__parent_id"))
        .only("pk", "state", "classification", "days_past_due", "maturity_on", "outstanding")
        .order_by("pk")
    )
    profiles = _profiles_by_county(on_date)
    fallback = PolicyProfile()  # the model's defaults, for a county with no profile yet
    changed: list[Loan] = []
    changes: list[ClassificationChange] = []
    counts = {"loans": 0, "changed": 0, "reclassified": 0}
    with transaction.atomic():
        for loan in loans.iterator(chunk_size=CHUNK):
            counts["loans"] += 1
            due = [d for d in (loan.unpaid_from,) if d is not None]
            if loan.outstanding > 0 and loan.maturity_on < on_date:
                due.append(loan.maturity_on)
            days = (on_date - min(due)).days if due else 0
            state = loan.state
            if state != Loan.State.EXTENDED:
                state = Loan.State.OVERDUE if days > 0 else Loan.State.ACTIVE
            profile = profiles.get(loan.county_id)
            if profile is None:
                logger.warning(
                    "overdue_refresh: no policy profile for county %s on %s", loan.county_id, on_date
                )
                profile = fallback
            floor = classification_floor(profile, days)
            if state == Loan.State.EXTENDED:
                floor = _worse(floor, Classification.SPECIAL_MENTION)
            classification = _worse(loan.classification, floor)
            if (days, state, classification) == (loan.days_past_due, loan.state, loan.classification):
                continue
            if classification != loan.classification:
                changes.append(
                    ClassificationChange(
                        loan=loan,
                        from_class=loan.classification,
                        to_class=classification,
                        floor=floor,
                        days_past_due=days,
                        reason=AUTO_REASON,
                        by=None,
                    )
                )
            loan.days_past_due, loan.state, loan.classification = days, state, classification
            changed.append(loan)
        Loan.objects.bulk_update(changed, ["days_past_due", "state", "classification"], batch_size=CHUNK)
        ClassificationChange.objects.bulk_create(changes, batch_size=CHUNK)
    counts["changed"] = len(changed)
    counts["reclassified"] = len(changes)
    return counts


# ---------------------------------------------------------------------------------------------
# Reads for the overdue list (kept beside the ageing they describe)


@dataclass(frozen=True)
class Bucket:
    key: str
    low: int
    high: int | None

    @property
    def label(self) -> str:
        return f"{self.low}-{self.high}" if self.high else f">{self.low - 1}"

    def q(self, prefix: str = "") -> Q:
        q = Q(**{f"{prefix}days_past_due__gte": self.low})
        if self.high is not None:
            q &= Q(**{f"{prefix}days_past_due__lte": self.high})
        return q


BUCKETS = (
    Bucket("1-30", 1, 30),
    Bucket("31-90", 31, 90),
    Bucket("91-180", 91, 180),
    Bucket("181-270", 181, 270),
    Bucket("271-360", 271, 360),
    Bucket("gt360", 361, None),
)
BUCKET_BY_KEY = {b.key: b for b in BUCKETS}


def overdue_list(*, user, bucket: str = "") -> QuerySet[Loan]:
    """Open loans past due in the user's area, the longest overdue first."""
    qs = selectors.loan_list(user=user).filter(state__in=Loan.OPEN_STATES, days_past_due__gt=0)
    if bucket in BUCKET_BY_KEY:
        qs = qs.filter(BUCKET_BY_KEY[bucket].q())
    return qs.order_by("-days_past_due", "pk")


def overdue_bucket_counts(*, user) -> list[tuple[Bucket, int]]:
    """How many loans fall in each bucket, in one query."""
    qs = selectors.loan_list(user=user).filter(state__in=Loan.OPEN_STATES, days_past_due__gt=0)
    totals = qs.aggregate(**{f"b{i}": Count("pk", filter=b.q()) for i, b in enumerate(BUCKETS)})
    return [(b, totals[f"b{i}"]) for i, b in enumerate(BUCKETS)]
