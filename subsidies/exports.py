"""The exports of a subsidy batch (issue #5, Outputs → Exports; DOMAIN §6): the detail list as a
workbook, the summary for signature and the public list for posting as PDFs, and the payment file
for the bank as CSV.

Builders take the batch and the lines the caller already scoped (selectors.line_list: a village
cadre's lines are the village's), and return bytes or write to a stream. Who may download what,
and the audit record of every download, are the views' business (views_exports.py).

Rows are read with `.iterator()`, as tuples or with `.only()` the columns printed: memory stays
flat however many lines a county's quarter has, the query count does not grow with them, and the
full ID number (kept encrypted on the member) is never even loaded."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet, Sum
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from accounts.models import OrgUnit
from core.cells import csv_text, set_xlsx_value
from households.models import Household
from loans.models import Loan

from . import selectors
from .models import ExcludedReason, ReducedReason, SubsidyBatch, SubsidyLine
from .workflow import State

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
CHUNK = 2000

# Which states each export is offered in. A batch still computing has only part of its lines, so
# nothing is exported from it; a cancelled batch keeps its lines for the record but is not posted;
# the bank is paid only what was approved.
DETAIL_STATES = (State.COMPUTED, State.REVIEWED, State.APPROVED, State.PAID, State.CANCELLED)
PUBLIC_STATES = (State.COMPUTED, State.REVIEWED, State.APPROVED, State.PAID)
PAYABLE_STATES = (State.APPROVED, State.PAID)


# ---- 大写金额 --------------------------------------------------------------------------------------

DIGITS = "零壹贰叁肆伍陆柒捌玖"
SMALL_UNITS = ("仟", "佰", "拾", "")
GROUP_UNITS = ("", "万", "亿", "万亿")


def _group_words(group: int) -> str:
    """1 ≤ group ≤ 9999 in capitals: zeros between figures become one 零, trailing ones nothing."""
    words = []
    zero = False
    for digit, unit in zip(f"{group:04d}", SMALL_UNITS, strict=True):
        if digit == "0":
            zero = bool(words)
            continue
        if zero:
            words.append("零")
            zero = False
        words.append(DIGITS[int(digit)] + unit)
    return "".join(words)


def _yuan_words(yuan: int) -> str:
    groups = []
    while yuan:
        yuan, group = divmod(yuan, 10000)
        groups.append(group)
    words = []
    gap = False
    for index in reversed(range(len(groups))):
        group = groups[index]
        if group == 0:
            gap = bool(words)
            continue
        # A zero group, or a group starting with zeros, after a higher one: one 零 (壹万零伍拾).
        if words and (gap or group < 1000):
            words.append("零")
        words.append(_group_words(group) + GROUP_UNITS[index])
        gap = False
    return "".join(words)


def amount_in_capitals(amount) -> str:
    """An amount in yuan in Chinese capital numerals (大写金额), as bank and finance vouchers write it
    under the PBOC rules for filling in vouchers (正确填写票据和结算凭证的基本规定):

    - 壹拾 is always written with its 壹, and every figure has its unit: 壹仟零壹拾元整;
    - zeros between figures are one 零; when the 元 figure is zero, 零 stands before the 角 so
      nothing can be slipped in (1680.32 → 壹仟陆佰捌拾元零叁角贰分), and a zero 角 before
      a 分 is always written (325.04 → 叁佰贰拾伍元零肆分);
    - 整 follows 元 when there are no 角 or 分, and is not written after 角 or 分.

    The amount is rounded half up to the cent. Money is Decimal: a float is refused rather than
    rounded from its binary approximation."""
    if isinstance(amount, float):
        raise TypeError("amount_in_capitals takes a Decimal, an int or a str, never a float")
    value = Decimal(amount).quantize(CENT, ROUND_HALF_UP)
    if value < 0:
        raise ValueError("amount_in_capitals takes an amount of zero or more")
    cents = int(value * 100)
    yuan, rest = divmod(cents, 100)
    jiao, fen = divmod(rest, 10)
    if yuan >= 10**16:
        raise ValueError("amount_in_capitals takes amounts below 10 ** 16 yuan")
    if cents == 0:
        return "零元整"
    words = _yuan_words(yuan) + "元" if yuan else ""
    if not jiao and not fen:
        return words + "整"
    if jiao:
        if yuan and yuan % 10 == 0:
            words += "零"
        words += DIGITS[jiao] + "角"
    elif yuan:
        words += "零"
    if fen:
        words += DIGITS[fen] + "分"
    return words


def money(value) -> Decimal:
    return (value or ZERO).quantize(CENT, ROUND_HALF_UP)


def share_percent(share: Decimal | None) -> str:
    """A profile's subsidy share as a percentage: 1.0000 → "100%", 0.8750 → "87.5%"."""
    if share is None:
        return "-"
    text = f"{(share * 100).quantize(CENT, ROUND_HALF_UP):f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _verbose(name: str, model=SubsidyLine):
    """A field's verbose name, still lazy: translated when the file is written."""
    return model._meta.get_field(name).verbose_name


def export_title(batch: SubsidyBatch, kind: str) -> str:
    """The heading (and file name) of an export."""
    values = {"county": batch.county.name, "label": batch.label}
    titles = {
        "detail": _("%(county)s interest subsidy detail list, %(label)s"),
        "summary": _("%(county)s interest subsidy summary, %(label)s"),
        "public": _("%(county)s interest subsidy public list, %(label)s"),
        "payment": _("%(county)s interest subsidy payment file, %(label)s"),
    }
    return titles[kind] % values


# ---- the detail list (XLSX) ------------------------------------------------------------------------

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="A61B1B")
TITLE_FONT = Font(bold=True, size=14)
BOLD = Font(bold=True)
DATE = "yyyy-mm-dd"
MONEY_FORMAT = "#,##0.00"
RATE_FORMAT = "0.0000"
DAYS_FORMAT = "0"

# The columns of the detail list, in order: (what the row query reads, header, width, number format).
# Text needs no format: a str is written as text, so a registration number keeps its digits.
DETAIL_COLUMNS = (
    ("village__parent__name", OrgUnit.Kind.TOWNSHIP.label, 12, None),
    ("village__name", OrgUnit.Kind.VILLAGE.label, 12, None),
    ("household__registration_no", _verbose("registration_no", Household), 20, None),
    ("loan__borrower__name", _verbose("borrower", Loan), 10, None),
    ("loan__borrower__id_number_masked", gettext_lazy("ID number (masked)"), 21, None),
    ("loan__contract_no", _verbose("contract_no", Loan), 18, None),
    ("period_start", _verbose("period_start"), 12, DATE),
    ("period_end", _verbose("period_end"), 12, DATE),
    ("days", _verbose("days"), 10, DAYS_FORMAT),
    ("principal", _verbose("principal"), 13, MONEY_FORMAT),
    ("subsidized_principal", _verbose("subsidized_principal"), 13, MONEY_FORMAT),
    ("contract_rate", _verbose("contract_rate"), 10, RATE_FORMAT),
    ("cap_rate", _verbose("cap_rate"), 10, RATE_FORMAT),
    ("rate_used", _verbose("rate_used"), 10, RATE_FORMAT),
    ("interest_paid", _verbose("interest_paid"), 12, MONEY_FORMAT),
    ("penalty_paid", _verbose("penalty_paid"), 14, MONEY_FORMAT),
    ("subsidy", _verbose("subsidy"), 12, MONEY_FORMAT),
    ("excluded_reason", _verbose("excluded_reason"), 44, None),
    ("period_days", _verbose("period_days"), 10, DAYS_FORMAT),
    ("reduced_reason", _verbose("reduced_reason"), 36, None),
)
DETAIL_ORDER = (
    "village__parent__code",
    "village__code",
    "household__registration_no",
    "loan__contract_no",
    "period_start",
    "pk",
)
INTEREST, PENALTY, SUBSIDY, REASON, REDUCED = 14, 15, 16, 17, 19


@dataclass
class ExportResult:
    """What an export holds, for the audit record."""

    lines: int = 0
    amount: Decimal = ZERO
    extra: dict = field(default_factory=dict)

    def audit_data(self) -> dict:
        return {"lines": self.lines, "amount": str(money(self.amount)), **self.extra}


def _cell(ws, value, number_format: str | None = None, font: Font | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws)
    set_xlsx_value(cell, value)
    if number_format:
        cell.number_format = number_format
    if font:
        cell.font = font
    return cell


def detail_rows(lines: QuerySet[SubsidyLine]) -> QuerySet:
    """The detail list's values, as tuples in the order of DETAIL_COLUMNS: no model instances for
    a county's quarter, and only the masked ID number ever read."""
    return lines.order_by(*DETAIL_ORDER).values_list(*(column[0] for column in DETAIL_COLUMNS))


def write_detail_xlsx(
    stream, *, batch: SubsidyBatch, lines: QuerySet[SubsidyLine], user=None
) -> ExportResult:
    """Write the batch's detail list to `stream` (a binary file): a title row (county, quarter,
    state), who exported it and when, the header row, one row per line of `lines`, and a totals
    row. Write-only and streamed, so memory does not grow with the lines."""
    reasons = {reason.value: str(reason.label) for reason in ExcludedReason}
    reduced = {reason.value: str(reason.label) for reason in ReducedReason}
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("Subsidy lines"))
    for index, (_path, _header, width, _format) in enumerate(DETAIL_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A4"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.print_title_rows = "3:3"

    title = _("%(title)s (%(state)s)") % {
        "title": export_title(batch, "detail"),
        "state": batch.get_state_display(),
    }
    ws.append([_cell(ws, title, font=TITLE_FONT)])
    ws.append([_cell(ws, _exported_note(user))])
    header = []
    for _path, text, _width, _format in DETAIL_COLUMNS:
        cell = _cell(ws, capfirst(str(text)), font=HEADER_FONT)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        header.append(cell)
    ws.append(header)

    # One styled cell per column, its value replaced row after row. A write-only sheet writes a
    # row out as it is appended, so the cells are free again at once; styling a new cell for
    # each of a county's hundreds of thousands of values would nearly double the time the file takes.
    row = [_cell(ws, None, number_format) for _path, _header, _width, number_format in DETAIL_COLUMNS]
    result = ExportResult()
    interest = penalty = ZERO
    for values in detail_rows(lines).iterator(chunk_size=CHUNK):
        for cell, value in zip(row, values, strict=True):
            set_xlsx_value(cell, value)
        row[REASON].value = reasons.get(values[REASON], values[REASON]) or None
        row[REDUCED].value = reduced.get(values[REDUCED], values[REDUCED]) or None
        ws.append(row)
        result.lines += 1
        result.amount += values[SUBSIDY]
        interest += values[INTEREST]
        penalty += values[PENALTY]

    totals = [None] * len(DETAIL_COLUMNS)
    totals[0] = _("Total")
    totals[1] = _("%(count)d lines") % {"count": result.lines}
    totals[INTEREST], totals[PENALTY], totals[SUBSIDY] = interest, penalty, result.amount
    ws.append(
        [
            _cell(ws, value, number_format if value is not None else None, BOLD)
            for value, (_path, _header, _width, number_format) in zip(totals, DETAIL_COLUMNS, strict=True)
        ]
    )
    wb.save(stream)
    return result


def _exported_note(user) -> str:
    when = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    if user is None:
        return _("Exported %(time)s") % {"time": when}
    unit = f" · {user.unit.name}" if getattr(user, "unit", None) else ""
    return _("Exported %(time)s by %(user)s") % {"time": when, "user": f"{user}{unit}"}


# ---- PDFs --------------------------------------------------------------------------------------------


def render_pdf(template: str, context: dict) -> bytes:
    """HTML rendered by WeasyPrint. Everything a template needs is inline (CSS, the system's Noto
    CJK fonts): the fetcher refuses every URL, so a stray link cannot make the server fetch
    anything while a list of personal data is being printed."""
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    html = render_to_string(template, context)
    return HTML(string=html, url_fetcher=URLFetcher(allowed_protocols=set())).write_pdf()


def summary_context(*, batch: SubsidyBatch, lines: QuerySet[SubsidyLine], user=None) -> dict:
    villages = selectors.village_totals(lines)
    total = selectors.sum_rows(villages)
    profile = batch.profile
    return {
        "batch": batch,
        "title": export_title(batch, "summary"),
        "profile": profile,
        "share": share_percent(profile.subsidy_share if profile else None),
        "villages": villages,
        "townships": selectors.township_totals(villages),
        "reasons": selectors.reason_totals(lines),
        "total": total,
        "capitals": amount_in_capitals(total["amount"]),
        # A user below the county sees part of the batch; the page says so rather than pass
        # for the county's total.
        "partial": total["lines"] != batch.line_count,
        "exported": _exported_note(user),
    }


def summary_pdf(
    *, batch: SubsidyBatch, lines: QuerySet[SubsidyLine], user=None
) -> tuple[bytes, ExportResult]:
    """The summary for signature: the batch, the profile it used, totals by township and village,
    exclusions by reason, the grand total in figures and in capitals, and the signature block."""
    context = summary_context(batch=batch, lines=lines, user=user)
    result = ExportResult(lines=context["total"]["lines"], amount=context["total"]["amount"])
    return render_pdf("subsidies/pdf_summary.html", context), result


PUBLIC_FIELDS = (
    "period_start",
    "period_end",
    "subsidy",
    "village",
    "village__name",
    "village__code",
    "village__parent",
    "village__parent__name",
    "village__parent__code",
    "loan",
    "loan__contract_no",
    "loan__borrower",
    "loan__borrower__name",
    "loan__borrower__id_number_masked",
)


def public_groups(lines: QuerySet[SubsidyLine]) -> list[dict]:
    """The lines with a subsidy, grouped by village (each village's list is posted in the
    village), in township and village order."""
    qs = (
        lines.filter(subsidy__gt=0)
        .select_related(None)
        .select_related("village__parent", "loan__borrower")
        .only(*PUBLIC_FIELDS)
        .order_by("village__parent__code", "village__code", "loan__contract_no", "period_start", "pk")
    )
    groups: list[dict] = []
    for line in qs.iterator(chunk_size=CHUNK):
        if not groups or groups[-1]["village"].pk != line.village_id:
            groups.append(
                {"village": line.village, "township": line.village.parent, "lines": [], "amount": ZERO}
            )
        groups[-1]["lines"].append(line)
        groups[-1]["amount"] += line.subsidy
    return groups


def public_pdf(
    *, batch: SubsidyBatch, lines: QuerySet[SubsidyLine], village: OrgUnit | None = None
) -> tuple[bytes, ExportResult]:
    """The public list for posting (DOMAIN §6: the lines are public, printed with masked IDs):
    per village, the borrowers with a subsidy, masked ID, contract, period and amount, under a
    heading and a short notice. `village` narrows it to one village's sheet."""
    if village is not None:
        lines = lines.filter(village=village)
    groups = public_groups(lines)
    context = {
        "batch": batch,
        "title": export_title(batch, "public"),
        "groups": groups,
        "village": village,
        "today": timezone.localdate(),
    }
    result = ExportResult(
        lines=sum(len(g["lines"]) for g in groups),
        amount=sum((g["amount"] for g in groups), ZERO),
        extra={"village": village.pk if village else None},
    )
    return render_pdf("subsidies/pdf_public.html", context), result


# ---- the payment file (CSV) ---------------------------------------------------------------------

# The bank's import format, not interface text: the same in every language, headed in Chinese
# as the banks' batch-payment (代发) templates are (before issue 14: account, name, amount,
# contract_no).
PAYMENT_HEADER = ("收款账号", "户名", "金额(元)", "借款合同编号")


def payment_rows(lines: QuerySet[SubsidyLine]) -> QuerySet:
    """One row per loan with a subsidy: (loan id, account, borrower, contract, sum of its lines)."""
    return (
        lines.filter(subsidy__gt=0)
        .order_by()
        .values_list("loan_id", "loan__account_no", "loan__borrower__name", "loan__contract_no")
        .annotate(amount=Sum("subsidy"))
        .order_by("loan__contract_no", "loan_id")
    )


def write_payment_csv(stream, *, batch: SubsidyBatch, lines: QuerySet[SubsidyLine]) -> ExportResult:
    """Write the payment file to `stream` (a text stream, e.g. an HttpResponse): a UTF-8 byte order
    mark so Excel opens the Chinese names correctly, the header, and one row per loan with its
    amount to two decimals. A loan without an account number is still listed, with the account
    empty: the bank or the finance staff fill it in, and `missing_accounts` warns beforehand."""
    stream.write("\ufeff")
    writer = csv.writer(stream)
    writer.writerow(PAYMENT_HEADER)
    result = ExportResult(extra={"loans": 0, "missing_accounts": 0})
    for _loan_id, account, name, contract_no, amount in payment_rows(lines).iterator(chunk_size=CHUNK):
        account = (account or "").strip()
        writer.writerow([csv_text(account), csv_text(name), f"{money(amount):f}", csv_text(contract_no)])
        result.extra["loans"] += 1
        result.extra["missing_accounts"] += not account
        result.amount += amount
    result.lines = result.extra["loans"]
    return result


def missing_accounts(batch: SubsidyBatch) -> int:
    """How many loans with a subsidy in the batch have no account number: the batch page warns
    before the payment file goes to the bank with empty accounts."""
    return selectors.contracts_missing_account(batch).count()


def filename(batch: SubsidyBatch, kind: str, extension: str) -> str:
    return f"{export_title(batch, kind)}.{extension}"
