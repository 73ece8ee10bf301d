"""Reading the spreadsheets the system takes (households, existing loans, settlement lists): the
cell readers and the row-error shape they share, so every import reads dates and amounts, and
words its problems, the same way."""

from __future__ import annotations

import datetime
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext as _
from openpyxl import load_workbook

MAX_FILE_SIZE = 10 * 1024 * 1024
# Excel keeps 15 significant digits of a number; an 18-digit ID typed into a number cell is lost.
EXCEL_DIGITS = 15


@dataclass(frozen=True)
class RowError:
    """One problem, where the cadre will find it: `row` as Excel numbers it (None: the whole
    file) and `column` as the header reads ("" when it concerns the whole row)."""

    row: int | None
    column: str
    message: str
    code: str = "invalid"

    def __str__(self):
        if self.row is None:
            return self.message
        if self.column:
            return _("Row %(row)d, column “%(column)s”: %(message)s") % {
                "row": self.row,
                "column": self.column,
                "message": self.message,
            }
        return _("Row %(row)d: %(message)s") % {"row": self.row, "message": self.message}


class CellError(Exception):
    def __init__(self, message, code: str = "invalid"):
        super().__init__(message)
        self.message = str(message)
        self.code = code


class FileError(Exception):
    pass


def normalise(text: str) -> str:
    """Full-width digits, letters and brackets to ASCII, all spaces removed: for codes and choices."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def header_key(text) -> str:
    return normalise(str(text)) if text is not None else ""


def is_blank(raw) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def is_number(raw) -> bool:
    return isinstance(raw, int | float | Decimal) and not isinstance(raw, bool)


def cell_text(raw) -> str:
    """A cell as text. Whole numbers lose the ".0" Excel gives them."""
    if raw is None:
        return ""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    if isinstance(raw, datetime.datetime):
        return raw.date().isoformat() if raw.time() == datetime.time() else raw.isoformat(sep=" ")
    return str(raw).strip()


DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d", "%Y-%m-%d%H:%M:%S")


def cell_date(raw) -> datetime.date:
    if isinstance(raw, datetime.datetime):
        return raw.date()
    if isinstance(raw, datetime.date):
        return raw
    text = normalise(cell_text(raw))
    for fmt in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise CellError(
        _("“%(value)s” is not a date; write it like 2020-12-31.") % {"value": cell_text(raw)}, "invalid_date"
    )


def cell_money(raw) -> Decimal:
    if is_number(raw):
        # Amounts computed in Excel are binary floats; money is kept to the fen (STYLE rule 3).
        return Decimal(str(raw)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = normalise(cell_text(raw)).replace(",", "").removesuffix("元")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CellError(
            _("“%(value)s” is not an amount; write digits only, like 12000 or 12000.50.")
            % {"value": cell_text(raw)},
            "invalid_amount",
        ) from None
    if not value.is_finite():
        raise CellError(_("“%(value)s” is not an amount.") % {"value": cell_text(raw)}, "invalid_amount")
    return value


def open_workbook(file):
    if getattr(file, "size", None) and file.size > MAX_FILE_SIZE:
        raise FileError(file_too_large_message())
    try:
        file.seek(0)
        return load_workbook(file, read_only=True, data_only=True)
    # A damaged or foreign file can fail anywhere inside openpyxl or zipfile; every such failure
    # means the same thing to the cadre.
    except Exception:
        raise FileError(unreadable_message()) from None


def unreadable_message() -> str:
    return _(
        "The file cannot be read as an Excel workbook (.xlsx). If it is an old .xls file or a "
        "WPS file, open it and save it as “Excel Workbook (*.xlsx)”, then upload it again."
    )


def file_too_large_message() -> str:
    return _("The file is larger than %(mb)d MB; split it into several files.") % {
        "mb": MAX_FILE_SIZE // (1024 * 1024)
    }
