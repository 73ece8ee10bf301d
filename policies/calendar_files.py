"""Reading a year of the working-day calendar from a small file laid out like the State
Council's notice (国务院办公厅关于部分节假日安排的通知): one row per day, with the columns
日期 (the date), 类型 (休息/放假 for a holiday rest day, 上班/调休上班 for a weekend day that is
worked) and 名称 (the holiday's name).

The headers and type words are the file format, not interface text: Chinese literals (with
English alternatives), never translated. Messages about the file are translated as usual.

A file from outside is bounded before it is parsed (STYLE rule 14), by the reader every import
shares (core/tabular.py): its size, then its type by content (an XLSX is a ZIP, whose declared
uncompressed size is checked before openpyxl opens it), then its number of rows, counted while
streaming and never read past the cap, and the length of every cell. Nothing here touches the
database; `services.calendar_import_check` and `services.calendar_year_import` use
it, answer a `CalendarImportResult` (or raise `CalendarImportRejected`) and store the year through
`calendar_year_define`."""

from __future__ import annotations

import csv
import datetime
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from core import tabular
from core.exceptions import ApplicationError
from core.tabular import (
    CellError,
    FileRefused,
    RowError,
    cell_date,
    cell_text,
    header_map,
    is_blank,
    normalise,
)

if TYPE_CHECKING:
    from .models import CalendarYear

# The size every import takes (core/uploads.py); a year's file is a few KB.
MAX_FILE_SIZE = tabular.MAX_FILE_SIZE
# One row per listed day, blank rows included, after the header: far more than a year lists.
MAX_ROWS = 400
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
# The words of the notice: "放假调休" days rest, "上班" days work.
KIND_WORDS = {
    **dict.fromkeys(("休息", "放假", "休", "假", "holiday", "rest"), HOLIDAY),
    **dict.fromkeys(("上班", "调休上班", "补班", "班", "workday", "work"), WORKDAY),
}
KIND_LABELS = {HOLIDAY: "休息", WORKDAY: "上班"}

# Codes of refusals that concern the whole file; the rows are not read after one of them.
FILE_CODES = (*tabular.FILE_CODES, "missing_header", "missing_column")


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


def _header(cells) -> dict[str, int]:
    return header_map(cells, COLUMNS, fold_case=True)[0]


def _is_header(cells) -> bool:
    found = _header(cells)
    return "date" in found and "kind" in found


def _no_header() -> FileRefused:
    return FileRefused(
        _(
            "No header row found in the first %(n)d rows. The header row must name the columns "
            "%(columns)s; download the template to see the layout."
        )
        % {"n": HEADER_SEARCH_ROWS, "columns": "、".join(c.header for c in COLUMNS)},
        "missing_header",
    )


def _columns_and_rows(header, rows) -> tuple[dict[str, int], list[tuple[int, tuple]]]:
    """The header's columns, and the data rows as (row number, cells), read one by one from the
    bounded reader (core/tabular.py), which refuses the file past MAX_ROWS rows."""
    columns = _header(header)
    if "name" not in columns:
        raise FileRefused(
            _("The header row has no “%(column)s” column; every holiday needs its name.")
            % {"column": BY_KEY["name"].header},
            "missing_column",
        )
    return columns, list(rows)


def _bounded_rows(rows) -> tuple[int, dict[str, int], list[tuple[int, tuple]]]:
    """The header's row number and columns, and the data rows, from any rows (lists of cells),
    bounded like a file's."""
    numbered = tabular.numbered_rows(rows)
    found = tabular.find_header(numbered, _is_header, HEADER_SEARCH_ROWS)
    if found is None:
        raise _no_header()
    header_row, header = found
    columns, data_rows = _columns_and_rows(
        header, tabular.bounded_rows(numbered, header_row=header_row, max_rows=MAX_ROWS)
    )
    return header_row, columns, data_rows


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
        with tabular.read_table(
            file, is_header=_is_header, max_rows=MAX_ROWS, search_rows=HEADER_SEARCH_ROWS
        ) as table:
            if table is None:
                raise _no_header()
            parsed.kind = table.kind
            columns, data_rows = _columns_and_rows(table.header, table.rows)
    except FileRefused as e:
        parsed.errors.append(e.row_error())
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


# ---- what importing a file would store ------------------------------------------------------------


@dataclass
class CalendarImportResult:
    """What importing a calendar file would store: every row, every problem, the year's holidays
    as ranges and its adjusted working days, and the year stored now (replaced on import)."""

    year: int
    filename: str
    source: str
    replace: bool
    file_type: str = ""
    rows: list[CalendarRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    holidays: list[tuple[datetime.date, datetime.date, str]] = field(default_factory=list)
    workdays: list[tuple[datetime.date, str]] = field(default_factory=list)
    existing: CalendarYear | None = None
    working_days: int | None = None
    rest_days: int | None = None

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.rows)

    @property
    def code(self) -> str:
        """The refusal's code: a whole-file refusal names itself, row errors are `invalid`."""
        return next((e.code for e in self.errors if e.row is None and e.code != "invalid"), "invalid")

    @property
    def holiday_table(self) -> list[dict]:
        return [
            {
                "start": start,
                "end": end,
                "name": name,
                "days": (end - start).days + 1,
                "weekdays": sum(
                    1
                    for n in range((end - start).days + 1)
                    if (start + datetime.timedelta(days=n)).weekday() < 5
                ),
            }
            for start, end, name in self.holidays
        ]

    def summary(self) -> dict:
        return {
            "year": self.year,
            "file_type": self.file_type,
            "rows": len(self.rows),
            "holidays": [
                {"start": str(h["start"]), "end": str(h["end"]), "name": h["name"], "days": h["days"]}
                for h in self.holiday_table
            ],
            "workdays": [{"date": str(day), "name": name} for day, name in self.workdays],
            "working_days": self.working_days,
            "rest_days": self.rest_days,
            "replaces": self.existing is not None,
        }


class CalendarImportRejected(ApplicationError):
    """The file was refused or has errors; nothing was stored. The errors are on `result`."""

    def __init__(self, result: CalendarImportResult):
        super().__init__(
            _("The file has %(n)d errors; nothing was imported.") % {"n": len(result.errors)}
            if result.code == "invalid"
            else result.errors[0].message,
            result.code,
            {
                "rows": [
                    {"row": e.row, "column": e.column, "message": e.message, "code": e.code}
                    for e in result.errors
                ]
            },
        )
        self.result = result
