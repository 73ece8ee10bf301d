"""Reading a year of the working-day calendar from a small file laid out like the State
Council's notice (国务院办公厅关于部分节假日安排的通知): one row per day, with the columns
日期 (the date), 类型 (休息/放假 for a holiday rest day, 上班/调休上班 for a weekend day that is
worked) and 名称 (the holiday's name).

The headers and type words are the file format, not interface text: Chinese literals (with
English alternatives), never translated. Messages about the file are translated as usual.

A file from outside is bounded before it is parsed (STYLE rule 14): its size, then its type by
content (an XLSX is a ZIP, whose declared uncompressed size is checked before openpyxl opens it),
then its number of rows, counted while streaming and never read past the cap. Nothing here
touches the database; `services.calendar_import_check` and `services.calendar_year_import` use
it and store the year through `calendar_year_define`."""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from core.tabular import CellError, RowError, cell_date, cell_text, is_blank, normalise

# A year has a few dozen holiday and adjusted working days; a file of a few KB holds them all.
MAX_FILE_SIZE = 1024 * 1024
# One row per listed day, blank rows included, after the header: far more than a year lists.
MAX_ROWS = 400
# What the ZIP's members say they unpack to, in total. An .xlsx of 400 rows unpacks to well
# under 1 MB; a small file that claims more is a compression bomb and is never opened.
MAX_XLSX_UNCOMPRESSED = 10 * 1024 * 1024
HEADER_SEARCH_ROWS = 5
NAME_MAX_LENGTH = 50

HOLIDAY = "holiday"
WORKDAY = "workday"


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    aliases: tuple[str, ...]


COLUMNS = (
    Column("date", "日期", ("date",)),
    Column("kind", "类型", ("type", "类别", "安排")),
    Column("name", "名称", ("name", "节日", "节假日", "节日名称", "节假日名称")),
)
BY_KEY = {c.key: c for c in COLUMNS}
HEADER_KEYS = {normalise(word).lower(): c.key for c in COLUMNS for word in (c.header, *c.aliases)}
# The words of the notice: "放假调休" days rest, "上班" days work.
KIND_WORDS = {
    **dict.fromkeys(("休息", "放假", "休", "假", "holiday", "rest"), HOLIDAY),
    **dict.fromkeys(("上班", "调休上班", "补班", "班", "workday", "work"), WORKDAY),
}
KIND_LABELS = {HOLIDAY: "休息", WORKDAY: "上班"}

# Codes of refusals that concern the whole file; the rows are not read after one of them.
FILE_CODES = (
    "file_too_large",
    "unknown_file_type",
    "xlsx_too_large",
    "bad_file",
    "bad_encoding",
    "too_many_rows",
    "missing_header",
    "missing_column",
)

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, .doc: the old Office format
ZIP_SIGNATURE = b"PK\x03\x04"


class FileRefused(Exception):
    def __init__(self, message, code: str):
        super().__init__(message)
        self.message = str(message)
        self.code = code


@dataclass
class CalendarRow:
    number: int  # as the spreadsheet numbers it
    date: datetime.date | None = None
    kind: str = ""
    name: str = ""
    ok: bool = True

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, "")


@dataclass
class ParsedFile:
    kind: str = ""  # "csv" or "xlsx" once recognised
    rows: list[CalendarRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def _refuse_type() -> FileRefused:
    return FileRefused(
        _(
            "This is not a CSV or XLSX file. Download the template, fill it in Excel or WPS and save "
            "it as “CSV UTF-8” or “Excel Workbook (*.xlsx)”."
        ),
        "unknown_file_type",
    )


def _read_bounded(file) -> bytes:
    if getattr(file, "size", None) and file.size > MAX_FILE_SIZE:
        raise _too_large()
    file.seek(0)
    data = file.read(MAX_FILE_SIZE + 1)
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_FILE_SIZE:
        raise _too_large()
    return data


def _too_large() -> FileRefused:
    return FileRefused(
        _(
            "The file is larger than %(mb)d MB. A year's holidays and adjusted working days fit in a "
            "few KB: list only those days, one row each."
        )
        % {"mb": MAX_FILE_SIZE // (1024 * 1024)},
        "file_too_large",
    )


def _sniff(data: bytes) -> str:
    """ "xlsx" or "csv", judged by the content (a file name says nothing: anything can be renamed)."""
    if data.startswith(ZIP_SIGNATURE):
        return "xlsx"
    if data.startswith(OLE_SIGNATURE):
        raise FileRefused(
            _(
                "This is an old Excel (.xls) file. Open it in Excel or WPS and save it as “Excel "
                "Workbook (*.xlsx)” or as CSV, then upload it again."
            ),
            "unknown_file_type",
        )
    # Text never holds NUL bytes; executables, images and archives do.
    if not data.strip() or b"\x00" in data:
        raise _refuse_type()
    return "csv"


def _xlsx_rows(data: bytes):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise _refuse_type() from None
    # The sizes are what the ZIP's directory declares; zipfile never unpacks a member past its
    # declared size, so checking the declaration bounds what openpyxl can be made to read.
    if sum(m.file_size for m in members) > MAX_XLSX_UNCOMPRESSED:
        raise FileRefused(
            _(
                "The workbook unpacks to more than %(mb)d MB, far more than a year's holidays need; "
                "it is not opened. Copy the rows into the template and upload that."
            )
            % {"mb": MAX_XLSX_UNCOMPRESSED // (1024 * 1024)},
            "xlsx_too_large",
        )
    if "xl/workbook.xml" not in {m.filename for m in members}:
        # A Word document, an APK, a plain ZIP: a ZIP, but no workbook.
        raise _refuse_type()
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    # A damaged workbook can fail anywhere inside openpyxl or zipfile; every such failure means
    # the same thing to the administrator.
    except Exception:
        raise FileRefused(
            _("The workbook cannot be read. Open it in Excel or WPS, save it again as .xlsx and retry."),
            "bad_file",
        ) from None
    try:
        # Read-only mode streams the sheet; a sheet that declares a million rows is read only up
        # to the cap below.
        yield from workbook.worksheets[0].iter_rows(values_only=True)
    except Exception:
        raise FileRefused(
            _("The workbook cannot be read. Open it in Excel or WPS, save it again as .xlsx and retry."),
            "bad_file",
        ) from None
    finally:
        workbook.close()


def _csv_rows(data: bytes):
    # Excel and WPS on Chinese Windows save CSV in GB18030 (GBK); others in UTF-8, often with BOM.
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            raise FileRefused(
                _("The CSV file is neither UTF-8 nor GBK text; save it again as “CSV UTF-8”."),
                "bad_encoding",
            ) from None
    try:
        yield from csv.reader(io.StringIO(text))
    except csv.Error:
        message = _("The CSV file cannot be read; save it again from Excel or WPS.")
        raise FileRefused(message, "bad_file") from None


def _header(cells) -> dict[str, int]:
    found: dict[str, int] = {}
    for position, cell in enumerate(cells or ()):
        key = HEADER_KEYS.get(normalise(cell_text(cell)).lower()) if not is_blank(cell) else None
        if key and key not in found:
            found[key] = position
    return found


def _bounded_rows(rows) -> tuple[int, dict[str, int], list[tuple[int, tuple]]]:
    """The header's row number and columns, and the data rows as (row number, cells), read one
    by one and refused as soon as there are more than MAX_ROWS of them."""
    header_number, columns, data_rows = None, {}, []
    for number, cells in enumerate(rows, start=1):
        if header_number is None:
            found = _header(cells)
            if "date" in found and "kind" in found:
                header_number, columns = number, found
            elif number >= HEADER_SEARCH_ROWS:
                break
            continue
        if len(data_rows) >= MAX_ROWS:
            raise FileRefused(
                _(
                    "The file has more than %(n)d rows after the header (blank rows count too). A year "
                    "lists a few dozen days: keep only the holiday and adjusted working days."
                )
                % {"n": MAX_ROWS},
                "too_many_rows",
            )
        data_rows.append((number, tuple(cells or ())))
    if header_number is None:
        raise FileRefused(
            _(
                "No header row found in the first %(n)d rows. The header row must name the columns "
                "%(columns)s; download the template to see the layout."
            )
            % {"n": HEADER_SEARCH_ROWS, "columns": "、".join(c.header for c in COLUMNS)},
            "missing_header",
        )
    if "name" not in columns:
        raise FileRefused(
            _("The header row has no “%(column)s” column; every holiday needs its name.")
            % {"column": BY_KEY["name"].header},
            "missing_column",
        )
    return header_number, columns, data_rows


def _parse_row(number: int, raw: dict, year: int, errors: list[RowError]) -> CalendarRow:
    row = CalendarRow(number)

    def fail(key, message, code):
        errors.append(RowError(number, BY_KEY[key].header if key else "", str(message), code))
        row.ok = False

    if is_blank(raw.get("date")):
        fail("date", _("The date is empty."), "required")
    else:
        try:
            row.date = cell_date(raw["date"])
        except CellError as e:
            fail("date", e.message, e.code)
        else:
            if row.date.year != year:
                fail(
                    "date",
                    _(
                        "%(date)s is not in %(year)s. The file holds one year; days of another year "
                        "belong to that year's file."
                    )
                    % {"date": row.date.isoformat(), "year": year},
                    "wrong_year",
                )
    word = normalise(cell_text(raw.get("kind"))).lower()
    if not word:
        fail("kind", _("The type is empty; write 休息 or 上班."), "required")
    elif word not in KIND_WORDS:
        fail(
            "kind",
            _(
                "“%(value)s” is not a type; write 休息 (or 放假) for a holiday and 上班 for an adjusted "
                "working day."
            )
            % {"value": cell_text(raw.get("kind"))},
            "invalid_type",
        )
    else:
        row.kind = KIND_WORDS[word]
    row.name = cell_text(raw.get("name"))
    if len(row.name) > NAME_MAX_LENGTH:
        fail("name", _("The name is longer than %(n)d characters.") % {"n": NAME_MAX_LENGTH}, "name_too_long")
    elif row.kind == HOLIDAY and not row.name:
        fail("name", _("A holiday needs its name, e.g. 春节."), "name_required")
    if row.ok and row.kind == WORKDAY and row.date.weekday() < 5:
        fail(
            "kind",
            _(
                "%(date)s is a weekday, which is a working day anyway; list as 上班 only the weekend "
                "days that are worked."
            )
            % {"date": row.date.isoformat()},
            "workday_not_weekend",
        )
    return row


def _check_duplicates(rows: list[CalendarRow], errors: list[RowError]) -> None:
    first: dict[datetime.date, CalendarRow] = {}
    for row in rows:
        if not row.ok:
            continue
        earlier = first.setdefault(row.date, row)
        if earlier is row:
            continue
        row.ok = False
        if row.kind == earlier.kind == HOLIDAY and row.name != earlier.name:
            message = _(
                "%(date)s is already on row %(row)d as part of %(name)s; two holidays cannot share a day."
            )
            code = "holiday_overlap"
        else:
            message = _("%(date)s is already on row %(row)d; list each day once.")
            code = "duplicate_date"
        errors.append(
            RowError(
                row.number,
                BY_KEY["date"].header,
                message % {"date": row.date.isoformat(), "row": earlier.number, "name": earlier.name},
                code,
            )
        )


def read_calendar_file(file, *, year: int) -> ParsedFile:
    """Every row of the file, parsed and checked on its own (dates in `year`, known types, names,
    no day twice), with every problem by row and column. Refusals of the whole file stop here
    with one error whose code is in FILE_CODES."""
    parsed = ParsedFile()
    try:
        data = _read_bounded(file)
        parsed.kind = _sniff(data)
        rows = _xlsx_rows(data) if parsed.kind == "xlsx" else _csv_rows(data)
        try:
            _header_number, columns, data_rows = _bounded_rows(rows)
        finally:
            # Reading stops early at the cap; closing the generator closes the workbook too.
            rows.close()
    except FileRefused as e:
        parsed.errors.append(RowError(None, "", e.message, e.code))
        return parsed
    for number, cells in data_rows:
        raw = {key: cells[position] if position < len(cells) else None for key, position in columns.items()}
        if all(is_blank(v) for v in raw.values()):
            continue
        parsed.rows.append(_parse_row(number, raw, year, parsed.errors))
    _check_duplicates(parsed.rows, parsed.errors)
    if not parsed.rows:
        parsed.errors.append(RowError(None, "", _("The file has a header row but no data rows."), "empty"))
    return parsed


def holiday_ranges(rows: list[CalendarRow]) -> list[tuple[datetime.date, datetime.date, str]]:
    """The holiday rest days as (first day, last day, name) ranges: consecutive days of the same
    name form one range, as the notice writes them (“2月6日至13日放假调休，共8天”)."""
    days = sorted((r.date, r.name) for r in rows if r.ok and r.kind == HOLIDAY)
    ranges: list[list] = []
    for day, name in days:
        if ranges and ranges[-1][2] == name and ranges[-1][1] + datetime.timedelta(days=1) == day:
            ranges[-1][1] = day
        else:
            ranges.append([day, day, name])
    return [(start, end, name) for start, end, name in ranges]


def adjusted_workdays(rows: list[CalendarRow]) -> list[tuple[datetime.date, str]]:
    return sorted((r.date, r.name) for r in rows if r.ok and r.kind == WORKDAY)


def template_csv(year: int) -> bytes:
    """The import template: the header and two example rows for `year` (National Day and the
    weekend day before it, a typical adjusted working day). UTF-8 with BOM, so Excel on Chinese
    Windows shows the headers right."""
    national_day = datetime.date(year, 10, 1)
    worked = national_day - datetime.timedelta(days=1)
    while worked.weekday() < 5:
        worked -= datetime.timedelta(days=1)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.header for c in COLUMNS])
    writer.writerow([national_day.isoformat(), "休息", "国庆节"])
    writer.writerow([worked.isoformat(), "上班", "国庆节"])
    return out.getvalue().encode("utf-8-sig")
