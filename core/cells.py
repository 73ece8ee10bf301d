"""Text we write into files people open in a spreadsheet is data, never a formula (STYLE.md rule
14; OWASP "CSV injection"). Every XLSX and CSV writer of the project puts its cells through this
module, so the rule lives in one place:

- CSV: a cell beginning with =, +, -, @, a tab or a carriage return would be run by Excel or WPS,
  so such text gets a leading apostrophe, which the spreadsheet shows as text (OWASP's advice).
- XLSX: every text value is stored as a string cell (openpyxl data type "s"). openpyxl otherwise
  turns any text beginning with = into a live formula, and text such as "#N/A" into an error value;
  a string cell is shown as typed and never calculated, so the value itself stays unchanged."""

from __future__ import annotations

from openpyxl.cell import WriteOnlyCell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_text(value) -> str:
    """`value` as CSV cell text that a spreadsheet will not run."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def set_xlsx_value(cell, value) -> None:
    """Put `value` in an openpyxl cell (a worksheet's cell or a WriteOnlyCell); text is always
    stored as a string, never as a formula or an error value."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"


def xlsx_cell(ws, value=None, number_format: str | None = None, font=None) -> WriteOnlyCell:
    """A cell for a write-only sheet holding `value` safely (see `set_xlsx_value`)."""
    cell = WriteOnlyCell(ws)
    set_xlsx_value(cell, value)
    if number_format:
        cell.number_format = number_format
    if font is not None:
        cell.font = font
    return cell
