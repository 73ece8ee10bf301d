"""The fund's statement of a period (对账单): opening balance, what came in and went out by kind,
closing balance, and every transaction of the period with its legs. `statement()` computes the
figures once; the page, the XLSX and the PDF all show that one object, so they cannot disagree."""

from __future__ import annotations

import datetime
import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Sum
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from core.cells import set_xlsx_value

from .models import ZERO, Account, LedgerEntry, LedgerTransaction, RiskFund

Kind = LedgerTransaction.Kind
MONEY_FORMAT = "#,##0.00"
BOLD = Font(bold=True)
# The PDF's styles, read from the file (the CSP keeps <style> out of templates).
PDF_CSS = "css/riskfund_statement_pdf.css"


@dataclass
class Statement:
    fund: RiskFund
    start: datetime.date
    end: datetime.date
    opening: Decimal
    deposits: Decimal
    interest: Decimal
    payouts: Decimal
    recoveries: Decimal
    withdrawals: Decimal
    reversals: Decimal
    closing: Decimal
    transactions: list = field(default_factory=list)

    @property
    def lines(self) -> list[tuple[str, Decimal]]:
        """The summary as (label, amount) in the order every format prints it."""
        return [
            (_("Opening balance"), self.opening),
            (_("Deposits and top-ups by the county"), self.deposits),
            (_("Interest earned"), self.interest),
            (_("Compensation paid to the bank"), -self.payouts),
            (_("Recoveries returned by the bank"), self.recoveries),
            (_("Withdrawals by the county"), -self.withdrawals),
            (_("Reversals"), self.reversals),
            (_("Closing balance"), self.closing),
        ]


def statement(fund: RiskFund, *, start: datetime.date, end: datetime.date) -> Statement:
    """The figures of `fund` from `start` to `end` (both included, by booking date). Payouts and
    withdrawals are positive sums of what left the account; `reversals` is the net effect of the
    period's reversals on the account (negative when they took money out)."""
    fund_legs = LedgerEntry.objects.filter(fund=fund, account=Account.FUND)
    opening = fund_legs.filter(transaction__booked_on__lt=start).aggregate(t=Sum("amount"))["t"] or ZERO
    by_kind = dict(
        fund_legs.filter(transaction__booked_on__gte=start, transaction__booked_on__lte=end)
        .order_by()
        .values_list("transaction__kind")
        .annotate(total=Sum("amount"))
    )
    moved = {kind: by_kind.get(kind) or ZERO for kind in Kind.values}
    closing = opening + sum(moved.values(), ZERO)
    transactions = list(
        LedgerTransaction.objects.filter(fund=fund, booked_on__gte=start, booked_on__lte=end)
        .select_related("created_by", "reverses")
        .prefetch_related("entries")
        .order_by("booked_on", "id")
    )
    return Statement(
        fund=fund,
        start=start,
        end=end,
        opening=opening,
        deposits=moved[Kind.DEPOSIT],
        interest=moved[Kind.INTEREST],
        payouts=-moved[Kind.COMPENSATION],
        recoveries=moved[Kind.RECOVERY],
        withdrawals=-moved[Kind.WITHDRAWAL],
        reversals=moved[Kind.REVERSAL],
        closing=closing,
        transactions=transactions,
    )


def _signature_labels() -> list[str]:
    return [_("Handled by"), _("Checked by"), _("Head of the finance bureau"), _("Head of the bank")]


def _title(s: Statement) -> str:
    return _("Statement of %(fund)s") % {"fund": s.fund.name}


def _period(s: Statement) -> str:
    return _("%(start)s to %(end)s") % {"start": f"{s.start:%Y-%m-%d}", "end": f"{s.end:%Y-%m-%d}"}


def statement_xlsx(s: Statement) -> bytes:
    """The statement as a workbook: the summary, then one row per leg of every transaction. Every
    text cell goes through core.cells, so a memo such as "=1+1" stays text."""
    wb = Workbook()
    ws = wb.active
    ws.title = str(_("Statement"))[:31]

    def row(*values, bold=False, money_at=()):
        ws.append([None] * len(values))
        for i, value in enumerate(values, start=1):
            cell = ws.cell(row=ws.max_row, column=i)
            set_xlsx_value(cell, value)
            if i in money_at and isinstance(value, Decimal):
                cell.number_format = MONEY_FORMAT
            if bold:
                cell.font = BOLD

    row(_title(s), bold=True)
    row(_("County"), s.fund.county.name, _("Co-operating bank"), s.fund.bank.name)
    row(_("Co-managed account number"), s.fund.account_no, _("Period"), _period(s))
    row()
    for label, amount in s.lines:
        row(label, amount, money_at=(2,))
    row()
    row(
        _("Transaction"),
        _("Booked on"),
        _("Kind"),
        _("Memo"),
        _("Bank reference"),
        _("Account"),
        _("Amount (yuan)"),
        bold=True,
    )
    for txn in s.transactions:
        for entry in txn.entries.all():
            row(
                txn.pk,
                txn.booked_on,
                txn.get_kind_display(),
                txn.memo,
                txn.reference,
                entry.get_account_display(),
                entry.amount,
                money_at=(7,),
            )
    row()
    for label in _signature_labels():
        row(label, "")
    row(_("Date"), "")
    for letter, width in zip("ABCDEFG", (22, 14, 20, 40, 18, 22, 16), strict=True):
        ws.column_dimensions[letter].width = width
    stream = io.BytesIO()
    wb.save(stream)
    return stream.getvalue()


def statement_pdf(s: Statement) -> bytes:
    """The statement for signature, printed by WeasyPrint with the system's Noto CJK font and the
    styles of static/css/riskfund_statement_pdf.css. The fetcher refuses every URL: nothing is
    fetched while the PDF is made."""
    from django.contrib.staticfiles import finders
    from weasyprint import CSS, HTML
    from weasyprint.urls import URLFetcher

    html = render_to_string(
        "riskfund/statement_pdf.html",
        {
            "s": s,
            "title": _title(s),
            "period": _period(s),
            "signatures": _signature_labels(),
            "printed_at": timezone.localtime(),
        },
    )
    fetcher = URLFetcher(allowed_protocols=set())
    style = CSS(filename=finders.find(PDF_CSS), url_fetcher=fetcher)
    return HTML(string=html, url_fetcher=fetcher).write_pdf(stylesheets=[style])
