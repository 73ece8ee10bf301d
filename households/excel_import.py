"""Importing a household roster: `parse_workbook` is the preview, `import_commit` the import.

Importing validates every row and reports every problem at once (row number as Excel shows it,
column, message). The rules are not written twice: each cell goes through the model field's own
`clean()` (households/excel_reading.py), and each household is then passed to `household_create`
inside a savepoint, so whatever the service refuses is reported against the household's rows too.
The preview rolls all of that back; the commit is the same run, kept only when not a single row
failed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError, NotPermitted
from core.tabular import FileRefused, RowError, header_map, read_table, unreadable_message

from .excel import BY_KEY, COLUMNS
from .excel_reading import (
    HEADER_SEARCH_ROWS,
    HouseholdPreview,
    Row,
    Villages,
    check_id_numbers,
    check_registration_numbers,
    group_households,
    is_header,
    no_header,
    read_rows,
)
from .services.households import household_create

logger = logging.getLogger(__name__)

# Every household goes through household_create twice (the preview's dry run and the commit), at
# about 2.5 ms a row on a local PostgreSQL: 5,000 rows (a township) take some 13 s per step, well
# inside a web request. A whole county is imported township by township.
MAX_ROWS = 5_000


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class ImportPreview:
    households: list[HouseholdPreview] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0  # data rows read (blank rows not counted)
    sheet: str = ""

    @property
    def member_count(self) -> int:
        return sum(h.member_count for h in self.households)

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.households)


class ImportRejected(ApplicationError):
    """The file has errors; nothing was written. The errors are on `preview`."""

    def __init__(self, preview: ImportPreview):
        super().__init__(
            _("The file has %(n)d errors; nothing was imported.") % {"n": len(preview.errors)},
            "import_rejected",
            {"errors": [{"row": e.row, "column": e.column, "message": e.message} for e in preview.errors]},
        )
        self.preview = preview


# ---------------------------------------------------------------------------------------------
# Running household_create


FIELD_COLUMN = {c.key: c.header for c in COLUMNS} | {
    "is_head": BY_KEY["relation"].header,
    "id_info": BY_KEY["id_number"].header,
}


def _service_errors(household: HouseholdPreview, exc: Exception) -> list[RowError]:
    """What household_create refused, placed on the household's rows. The service names the field
    ("exited_on", "members", "members.<i>.id_number"); `i` is the member's place in the list it was
    given, which is `household.member_rows` in the same order."""
    head = household.head_row or household.first_row
    code = getattr(exc, "code", None) or "invalid"

    def place(name: str) -> tuple[int, str]:
        if name.startswith("members."):
            _members, index, member_field = (name.split(".") + ["", ""])[:3]
            if index.isdigit() and int(index) < len(household.member_rows):
                return household.member_rows[int(index)], FIELD_COLUMN.get(member_field, "")
        if name == "members":
            return head, BY_KEY["relation"].header
        return head, FIELD_COLUMN.get(name, "")

    if isinstance(exc, ApplicationError):
        row, column = place(exc.field or "")
        return [RowError(row, column, str(exc.message), code)]
    if isinstance(exc, ValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
        return [
            RowError(*place("" if name == NON_FIELD_ERRORS else name), message, code)
            for name, messages in fields.items()
            for message in messages
        ]
    # IntegrityError: another user registered the same household or person a moment ago.
    message = _(
        "This household or one of its members was registered by someone else meanwhile; "
        "upload the file again."
    )
    return [RowError(head, "", message, "conflict")]


def _create_all(households: list[HouseholdPreview], *, user, reason: str, errors: list[RowError]) -> int:
    """household_create for each household, each in its own savepoint so one refusal does not hide
    the next. Call inside a transaction; it is the caller's to keep or roll back."""
    created = 0
    for household in households:
        if not household.ok:
            continue
        try:
            with transaction.atomic():
                household_create(
                    acting_user=user, members=household.members, reason=reason, **household.fields
                )
        except NotPermitted:
            raise
        except (ApplicationError, ValidationError, IntegrityError) as e:
            household.ok = False
            errors.extend(_service_errors(household, e))
        else:
            created += 1
    return created


def _read_sheet(table, preview: ImportPreview) -> list[Row]:
    """The data rows of the sheet with the header row; header problems end the reading."""
    errors = preview.errors
    header_row = table.header_row
    columns, twice = header_map(table.header, COLUMNS)
    preview.sheet = table.sheet
    for header in twice:
        message = _("This column appears twice in the header row; keep one.")
        errors.append(RowError(header_row, header, message, "duplicate_column"))
    missing = [c for c in COLUMNS if c.required and c.key not in columns]
    for column in missing:
        message = _("This required column is missing from the header row.")
        errors.append(RowError(header_row, column.header, message, "missing_column"))
    if missing or twice:
        return []
    rows = list(read_rows(table.rows, columns, errors))
    if not rows:
        errors.append(RowError(None, "", _("The sheet has a header row but no data rows."), "empty"))
    return rows


def _read(file, *, user) -> ImportPreview:
    """Every check that needs no writing: cells, households, duplicates, what is already registered."""
    preview = ImportPreview()
    try:
        # Bounded before it is parsed, like every import (core/tabular.py); only .xlsx is taken.
        with read_table(
            file,
            is_header=is_header,
            max_rows=MAX_ROWS,
            csv_allowed=False,
            all_sheets=True,
            search_rows=HEADER_SEARCH_ROWS,
        ) as table:
            if table is None:
                preview.errors.append(no_header())
                return preview
            rows = _read_sheet(table, preview)
    except FileRefused as e:
        # The whole file is refused; problems of rows read before the refusal do not matter.
        preview.errors = [e.row_error()]
        return preview
    # A bug of ours while reading, not a hostile file: logged, and answered like an unreadable one.
    except Exception:
        logger.warning("Household import: unreadable workbook", exc_info=True)
        preview.errors.append(RowError(None, "", unreadable_message(csv=False), "bad_file"))
        return preview
    preview.rows = len(rows)
    if not rows:
        return preview
    check_id_numbers(rows, preview.errors)
    preview.households = group_households(rows, Villages(user), preview.errors)
    check_registration_numbers(preview.households, preview.errors)
    return preview


def _sorted(errors: list[RowError]) -> list[RowError]:
    order = {c.header: i for i, c in enumerate(COLUMNS)}
    unique = list(dict.fromkeys(errors))
    return sorted(unique, key=lambda e: (e.row is not None, e.row or 0, order.get(e.column, -1)))


def parse_workbook(file, *, user) -> ImportPreview:
    """Read and check every row, then try every household against `household_create` and roll all
    of it back. Nothing is written."""
    preview = _read(file, user=user)
    if preview.households:
        with transaction.atomic():
            _create_all(preview.households, user=user, reason="", errors=preview.errors)
            transaction.set_rollback(True)
    preview.errors = _sorted(preview.errors)
    return preview


@transaction.atomic
def import_commit(*, acting_user, file, filename: str) -> int:
    """Import every household of the file, or none: any error rolls everything back and raises
    ImportRejected with all the errors. Returns the number of households created."""
    preview = _read(file, user=acting_user)
    if not preview.households and not preview.errors:
        preview.errors.append(RowError(None, "", _("The file has no households."), "empty"))
    reason = _("Excel import %(filename)s") % {"filename": filename}
    created = 0
    if not preview.errors:
        created = _create_all(preview.households, user=acting_user, reason=reason, errors=preview.errors)
    if preview.errors:
        # Raised inside the transaction, so the households created before the failure go too.
        preview.errors = _sorted(preview.errors)
        raise ImportRejected(preview)
    return created
