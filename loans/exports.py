"""The loan book and the overdue list as workbooks (issue 14), for the people who work them in a
spreadsheet: the rows the page shows (the same scope, filters and order), money as numbers with
two decimals, ID numbers masked as on every list (DOMAIN §2), and the borrower's phone number on
the overdue list for the roles that call borrowers (PHONE_ROLES).

Every cell goes through core.cells, so a name typed as "=1+1" stays text (STYLE.md rule 14).
Rows are read with `values_list(...).iterator()`: no model instances, only the masked ID number
ever loaded, and the query count does not grow with the rows. A file holds at most
EXPORT_ROW_LIMIT rows; more is refused with a message to narrow the filters (`ExportTooLarge`).
Each export leaves an audit row (who, how many rows, which filter, whether phones were in it),
since it takes personal data off the system (PIPL art.51)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from django.db.models import F, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from accounts.models import Role
from core.audit import audit
from core.cells import set_xlsx_value, xlsx_cell
from core.exceptions import ApplicationError
from households.models import Member

from .choices import Classification
from .classification import bucket_for
from .models import Loan

# The most rows one file holds: a county's whole book fits; more is a sign the filters were
# forgotten, and the file would take too long to build within a request.
EXPORT_ROW_LIMIT = 20000
# Who gets the borrower's phone number in the overdue list: the loan officer who collects and the
# village cadre who helps (DOMAIN §1). Others get the list without it.
PHONE_ROLES = (Role.LOAN_OFFICER, Role.VILLAGE_CADRE)
CHUNK = 2000

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="A61B1B")
MONEY_FORMAT = "#,##0.00"
RATE_FORMAT = "0.00##"
DATE_FORMAT = "yyyy-mm-dd"
TEXT_FORMAT = "@"
COUNT_FORMAT = "#,##0"


class ExportTooLarge(ApplicationError):
    def __init__(self, count: int):
        super().__init__(
            _(
                "%(count)s loans match; one export holds at most %(max)s. Narrow the filters (a "
                "village, a state or an overdue bucket) and export again."
            )
            % {"count": f"{count:,}", "max": f"{EXPORT_ROW_LIMIT:,}"},
            "export_too_large",
            {"count": count, "max": EXPORT_ROW_LIMIT},
        )


@dataclass(frozen=True)
class Column:
    """One column: the value read (a path for values_list, or a key computed from the row), the
    header, the width and the number format."""

    path: str
    header: str
    width: int = 12
    number_format: str | None = None


def _columns(*specs) -> tuple[Column, ...]:
    return tuple(Column(*spec) for spec in specs)


# Where the loan is and whose it is: the first columns of both workbooks.
WHOSE = (
    ("household__village__parent__name", gettext_lazy("township"), 12),
    ("household__village__name", gettext_lazy("village"), 12),
    ("household__registration_no", gettext_lazy("registration number"), 20, TEXT_FORMAT),
    ("borrower__name", gettext_lazy("borrower"), 10),
    ("borrower__id_number_masked", gettext_lazy("ID number (masked)"), 21, TEXT_FORMAT),
    ("contract_no", gettext_lazy("contract number"), 18, TEXT_FORMAT),
)
BOOK_COLUMNS = _columns(
    *WHOSE,
    ("amount", gettext_lazy("loan amount"), 13, MONEY_FORMAT),
    ("outstanding", gettext_lazy("outstanding principal"), 13, MONEY_FORMAT),
    ("rate", gettext_lazy("annual rate (%)"), 10, RATE_FORMAT),
    ("term_months", gettext_lazy("term (months)"), 9, COUNT_FORMAT),
    ("disbursed_on", gettext_lazy("disbursed on"), 12, DATE_FORMAT),
    ("maturity_on", gettext_lazy("matures on"), 12, DATE_FORMAT),
    ("classification", gettext_lazy("classification"), 10),
    ("days_past_due", gettext_lazy("days past due"), 10, COUNT_FORMAT),
    ("state", gettext_lazy("state"), 10),
    ("branch__name", gettext_lazy("bank branch"), 14),
)
# The borrower's phone, or the household head's when the borrower has none recorded.
PHONE = Column("contact_phone", gettext_lazy("phone"), 14, TEXT_FORMAT)
OVERDUE_COLUMNS = _columns(
    *WHOSE,
    ("outstanding", gettext_lazy("outstanding principal"), 13, MONEY_FORMAT),
    ("maturity_on", gettext_lazy("matures on"), 12, DATE_FORMAT),
    ("days_past_due", gettext_lazy("days past due"), 10, COUNT_FORMAT),
    ("bucket", gettext_lazy("overdue bucket"), 12),
    ("classification", gettext_lazy("classification"), 10),
    ("branch__name", gettext_lazy("bank branch"), 14),
)


def can_see_phones(user) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.has_role(*PHONE_ROLES)


def _bucket_label(days: int) -> str:
    bucket = bucket_for(days or 0)
    return _("%(label)s days") % {"label": bucket.label} if bucket else ""


def _write(*, title: str, columns: tuple[Column, ...], rows, note: str) -> tuple[bytes, int]:
    """A write-only workbook: the note (what the file holds, who exported it) on the first row,
    the Chinese headers on the second, then the rows; headers frozen."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    for index, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = column.width
    ws.freeze_panes = "A3"
    ws.append([xlsx_cell(ws, note)])
    header = []
    for column in columns:
        cell = xlsx_cell(ws, str(column.header), font=HEADER_FONT)
        cell.fill = HEADER_FILL
        header.append(cell)
    ws.append(header)
    # One styled cell per column, its value replaced row after row (a write-only sheet writes a
    # row out as it is appended), as subsidies/exports.py does.
    cells = [xlsx_cell(ws, None, column.number_format) for column in columns]
    count = 0
    for values in rows:
        for cell, value in zip(cells, values, strict=True):
            set_xlsx_value(cell, value)
        ws.append(cells)
        count += 1
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), count


def _note(user) -> str:
    when = timezone.localtime().strftime("%Y-%m-%d %H:%M")
    return _(
        "Contains personal information (ID numbers masked). For work use only; keep it safe and do "
        "not pass it on. Exported by %(user)s, %(time)s."
    ) % {"user": user, "time": when}


def _checked(loans: QuerySet[Loan]) -> None:
    count = loans.count()
    if count > EXPORT_ROW_LIMIT:
        raise ExportTooLarge(count)


def _labels(choices) -> dict:
    return {value: str(label) for value, label in choices}


def book_xlsx(*, user, loans: QuerySet[Loan], filters: dict) -> bytes:
    """The loan book's rows `loans` (already scoped, filtered and ordered by the page's
    selector) as a workbook."""
    _checked(loans)
    states = _labels(Loan.State.choices)
    classes = _labels(Classification.choices)
    paths = [column.path for column in BOOK_COLUMNS]
    state_at, class_at = paths.index("state"), paths.index("classification")

    def rows():
        for values in loans.values_list(*paths).iterator(chunk_size=CHUNK):
            values = list(values)
            values[state_at] = states.get(values[state_at], values[state_at])
            values[class_at] = classes.get(values[class_at], values[class_at])
            yield values

    data, count = _write(title=_("Loan book"), columns=BOOK_COLUMNS, rows=rows(), note=_note(user))
    audit(actor=user, action="loan.export_book", obj=user, data={"rows": count, "filter": filters})
    return data


def overdue_xlsx(*, user, loans: QuerySet[Loan], filters: dict) -> bytes:
    """The overdue list's rows `loans` (already scoped, filtered and ordered) as a workbook, with
    the borrower's phone number after the ID number for PHONE_ROLES (the household head's when
    none is recorded for the borrower)."""
    _checked(loans)
    phones = can_see_phones(user)
    columns = OVERDUE_COLUMNS
    if phones:
        at = [column.path for column in columns].index("borrower__id_number_masked") + 1
        columns = (*columns[:at], PHONE, *columns[at:])
        head_phone = Member.objects.filter(household=OuterRef("household_id"), is_head=True).values("phone")[
            :1
        ]
        loans = loans.annotate(
            contact_phone=Coalesce(NullIf(F("borrower__phone"), Value("")), Subquery(head_phone), Value(""))
        )
    classes = _labels(Classification.choices)
    # "bucket" is computed from the days past due; every other column is read as it is.
    paths = [column.path if column.path != "bucket" else "days_past_due" for column in columns]
    bucket_at = [column.path for column in columns].index("bucket")
    class_at = paths.index("classification")

    def rows():
        for values in loans.values_list(*paths).iterator(chunk_size=CHUNK):
            values = list(values)
            values[bucket_at] = _bucket_label(values[bucket_at])
            values[class_at] = classes.get(values[class_at], values[class_at])
            yield values

    data, count = _write(title=_("Overdue loans"), columns=columns, rows=rows(), note=_note(user))
    audit(
        actor=user,
        action="loan.export_overdue",
        obj=user,
        data={"rows": count, "filter": filters, "phones": phones},
    )
    return data
