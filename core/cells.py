"""Text we write into files people open in a spreadsheet is data, never a formula (STYLE.md rule
14; OWASP "CSV injection"): a cell beginning with =, +, -, @, a tab or a carriage return would be
run by Excel or WPS, so such text gets a leading apostrophe, which the spreadsheet shows as text."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value) -> str:
    """`value` as CSV cell text that a spreadsheet will not run."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def set_xlsx_value(cell, value) -> None:
    """Put `value` in an openpyxl cell; text that would start a formula is stored as a string
    (openpyxl otherwise writes any text beginning with = as a formula)."""
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"
