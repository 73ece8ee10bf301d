"""Reading a household roster (its layout is households/excel.py) into households. The rules are
not written twice: each cell goes through the model field's own `clean()`; then the checks across
rows group the rows into households (one head, household values from the head's row), resolve
villages within the user's area, and find ID and registration numbers given twice or already
registered. What `household_create` itself refuses is found by households/excel_import.py."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from accounts.models import OrgUnit
from accounts.scoping import visible_villages
from core.tabular import EXCEL_DIGITS, RowError, header_map
from core.tabular import CellError as _CellError
from core.tabular import cell_date as _date
from core.tabular import cell_money as _money
from core.tabular import cell_text as _text
from core.tabular import is_blank as _blank
from core.tabular import is_number as _is_number
from core.tabular import normalise as _normalise

from . import idnumbers
from .excel import (
    BY_KEY,
    COLUMNS,
    HOUSEHOLD_KEYS,
    LABOUR_ALIASES,
    LABOUR_WORDS,
    MEMBER_KEYS,
    MONEY,
    RELATION_ALIASES,
    RELATION_WORDS,
    STATUS_ALIASES,
    STATUS_WORDS,
)
from .models import Household, Member

# A title line or two above the header is common in cadres' own sheets ("五通村建档立卡户花名册").
HEADER_SEARCH_ROWS = 10
QUERY_CHUNK = 900  # stays under SQLite's parameter limit in the local setup


@dataclass
class HouseholdPreview:
    """One household found in the file, ready for `household_create`."""

    registration_no: str
    rows: list[int] = field(default_factory=list)
    head_row: int | None = None
    fields: dict = field(default_factory=dict)
    members: list[dict] = field(default_factory=list)
    member_rows: list[int] = field(default_factory=list)
    ok: bool = True

    @property
    def village(self) -> OrgUnit | None:
        return self.fields.get("village")

    @property
    def poverty_status_label(self) -> str:
        return STATUS_WORDS.get(self.fields.get("poverty_status"), "")

    @property
    def head_name(self) -> str:
        return next((m["name"] for m in self.members if m.get("is_head")), "")

    @property
    def member_count(self) -> int:
        return len(self.members)

    @property
    def first_row(self) -> int:
        return self.rows[0]


# ---------------------------------------------------------------------------------------------
# Reading cells


def _code_text(raw, column: str) -> str:
    """Text that must survive digit for digit (a registration number, a village code, a phone)."""
    if _is_number(raw) and abs(raw) >= 10**EXCEL_DIGITS:
        raise _CellError(
            _(
                "“%(column)s” is a number cell and Excel keeps only 15 significant digits; "
                "set the column to Text and type the values again."
            )
            % {"column": column},
            "number_cell",
        )
    return _normalise(_text(raw))


def _id_number(raw) -> idnumbers.IdInfo:
    column = BY_KEY["id_number"].header
    if _is_number(raw):
        # Never converted: the digits Excel dropped cannot be recovered (DOMAIN §2).
        raise _CellError(
            _(
                "“%(column)s” is a number cell and Excel keeps only 15 significant digits; "
                "set the column to Text and type the values again."
            )
            % {"column": column},
            "id_not_text",
        )
    try:
        return idnumbers.parse(_normalise(_text(raw)))
    except ValidationError as e:
        raise _CellError("；".join(e.messages), e.code or "invalid") from None


def _choice(raw, words: dict[str, str], aliases: dict[str, str]) -> str:
    word = _normalise(_text(raw))
    for value, known in words.items():
        if word == known:
            return value
    if word in aliases:
        return aliases[word]
    # Only the template's words are suggested; the aliases are accepted quietly.
    raise _CellError(
        _("“%(value)s” is not one of: %(allowed)s.")
        % {"value": _text(raw), "allowed": "、".join(words.values())},
        "invalid_choice",
    )


def _model_clean(model, name: str, value):
    """The model field's own validation (length, choices, minimum …) with Django's messages."""
    try:
        return model._meta.get_field(name).clean(value, None)
    except ValidationError as e:
        raise _CellError("；".join(e.messages), e.code or "invalid") from None


# ---------------------------------------------------------------------------------------------
# Reading the workbook


@dataclass
class Row:
    number: int
    values: dict = field(default_factory=dict)  # parsed values of the cells that were filled and valid
    bad: set = field(default_factory=set)  # keys whose cell was filled but invalid


def is_header(cells) -> bool:
    # Three known headers make a header row; a title line has at most one.
    return len(header_map(cells, COLUMNS)[0]) >= 3


def no_header() -> RowError:
    return RowError(
        None,
        "",
        _(
            "No header row found in the first %(n)d rows of any sheet. The header row must name the "
            "columns, for example %(columns)s; download the template to see the layout."
        )
        % {"n": HEADER_SEARCH_ROWS, "columns": "、".join(f"「{c.header}」" for c in COLUMNS if c.required)},
        "bad_file",
    )


def read_rows(rows, columns: dict[str, int], errors: list[RowError]) -> Iterator[Row]:
    """The data rows, streamed; `rows` (core/tabular.py) refuses the file past MAX_ROWS rows."""
    for number, cells in rows:
        raw = {key: (cells[i] if i < len(cells) else None) for key, i in columns.items()}
        if all(_blank(v) for v in raw.values()):
            continue
        yield _parse_row(number, raw, errors)


def _parse_row(number: int, raw: dict, errors: list[RowError]) -> Row:
    row = Row(number)
    for key, value in raw.items():
        column = BY_KEY[key]
        if _blank(value):
            continue
        try:
            row.values[key] = _parse_cell(key, value)
        except _CellError as e:
            row.bad.add(key)
            errors.append(RowError(number, column.header, e.message, e.code))
    # Member values are needed on every row; household values only on the head's (checked later).
    for key in ("registration_no", "name", "id_number", "relation", "labour_capacity"):
        if key not in row.values and key not in row.bad:
            row.bad.add(key)
            message = _("This cell must be filled in.")
            if key == "registration_no":
                # Rosters often merge the household's cells, which leaves all but the first row empty.
                message = _(
                    "Write the household's 户编号 on every member's row. Merged cells count as empty: "
                    "unmerge them and fill in every row."
                )
            errors.append(RowError(number, BY_KEY[key].header, message, "required"))
    return row


def _parse_cell(key: str, value):
    header = BY_KEY[key].header
    match key:
        case "id_number":
            return _id_number(value)
        case "registration_no":
            return _model_clean(Household, key, _code_text(value, header))
        case "village":
            return _code_text(value, header)  # resolved against the user's villages later
        case "poverty_status":
            return _choice(value, STATUS_WORDS, STATUS_ALIASES)
        case "relation":
            return _choice(value, RELATION_WORDS, RELATION_ALIASES)
        case "labour_capacity":
            return _choice(value, LABOUR_WORDS, LABOUR_ALIASES)
        case "exited_on":
            return _date(value)
        case "phone":
            return _model_clean(Member, key, _code_text(value, header))
        case "name":
            return _model_clean(Member, key, _text(value))
        case _ if key in MONEY:
            return _model_clean(Household, key, _money(value))
        case _:
            return _model_clean(Household, key, _text(value))


# ---------------------------------------------------------------------------------------------
# Checks across rows


class Villages:
    """Village lookup by code, by name, or by township and village name, within the user's area."""

    def __init__(self, user):
        self.by_key: dict[str, set[OrgUnit]] = defaultdict(set)
        for village in visible_villages(user):
            for key in (village.code, village.name, f"{village.parent.name}{village.name}"):
                self.by_key[_normalise(key)].add(village)

    def resolve(self, values: Iterable[str]) -> dict[str, OrgUnit | RowError]:
        """Each value to its village, or to the error (without a row) to report."""
        header = BY_KEY["village"].header
        result: dict[str, OrgUnit | RowError] = {}
        unknown = []
        for value in set(values):
            matches = self.by_key.get(value, set())
            if len(matches) == 1:
                result[value] = next(iter(matches))
            elif matches:
                result[value] = RowError(
                    None,
                    header,
                    _("Several villages are called “%(name)s”; write the village code instead (%(codes)s).")
                    % {"name": value, "codes": "、".join(sorted(v.code for v in matches))},
                    "ambiguous_village",
                )
            else:
                unknown.append(value)
        elsewhere = set()
        for chunk in _chunks(unknown):
            elsewhere.update(
                OrgUnit.objects.filter(
                    Q(code__in=chunk) | Q(name__in=chunk), kind=OrgUnit.Kind.VILLAGE
                ).values_list("code", "name")
            )
        elsewhere_keys = {k for pair in elsewhere for k in pair}
        for value in unknown:
            if value in elsewhere_keys:
                result[value] = RowError(
                    None,
                    header,
                    _(
                        "Village “%(name)s” is not in your area; you can only import households "
                        "of your own villages."
                    )
                    % {"name": value},
                    "out_of_scope",
                )
            else:
                result[value] = RowError(
                    None,
                    header,
                    _(
                        "There is no village “%(name)s”; write the village name or code as on "
                        "the “村名单” sheet of the template."
                    )
                    % {"name": value},
                    "unknown_village",
                )
        return result


def _chunks(items: list, size: int = QUERY_CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _error(row: int, key: str, message, code: str) -> RowError:
    return RowError(row, BY_KEY[key].header, str(message), code)


def group_households(rows: list[Row], villages: Villages, errors: list[RowError]) -> list[HouseholdPreview]:
    """Rows into households, in the order the file first mentions them."""
    village_of = villages.resolve(r.values["village"] for r in rows if "village" in r.values)
    by_reg: dict[str, list[Row]] = {}
    for row in rows:
        if "village" in row.values:
            resolved = village_of[row.values["village"]]
            if isinstance(resolved, RowError):
                errors.append(RowError(row.number, resolved.column, resolved.message, resolved.code))
                row.bad.add("village")
                del row.values["village"]
            else:
                row.values["village"] = resolved
        if "registration_no" in row.values:
            by_reg.setdefault(row.values["registration_no"], []).append(row)
    return [_household(reg, group, errors) for reg, group in by_reg.items()]


def _household(reg: str, group: list[Row], errors: list[RowError]) -> HouseholdPreview:
    """One head; household values from the head's row; other rows empty or the same there."""
    household = HouseholdPreview(registration_no=reg, rows=[r.number for r in group])
    found: list[RowError] = []
    heads = [r for r in group if r.values.get("relation") == Member.Relation.HEAD]
    # An unreadable relation cell is reported already; "no head" would only repeat it.
    if not heads and not any("relation" in r.bad for r in group):
        message = _("Household %(reg)s has no head: write “户主” in this column on the head's row.")
        found.append(_error(group[0].number, "relation", message % {"reg": reg}, "household_head"))
    for extra in heads[1:]:
        message = _("Household %(reg)s already has a head on row %(row)d; a household has exactly one head.")
        found.append(
            _error(extra.number, "relation", message % {"reg": reg, "row": heads[0].number}, "household_head")
        )
    head = heads[0] if heads else None
    if head is not None:
        household.head_row = head.number
        household.fields = {k: head.values[k] for k in HOUSEHOLD_KEYS if k in head.values}
        for key in ("village", "poverty_status"):
            if key not in head.values and key not in head.bad:
                found.append(_error(head.number, key, _("Fill in this cell on the head's row."), "required"))
        message = _(
            "Differs from the head's row (row %(row)d). A household's values are read from the head's "
            "row: leave this cell empty or make it the same."
        ) % {"row": head.number}
        for row in group:
            for key in HOUSEHOLD_KEYS:
                if row is not head and key in row.values and key in head.values:
                    if row.values[key] != head.values[key]:
                        found.append(_error(row.number, key, message, "contradiction"))
    # The head first: the order household_create and the household page show members in.
    for row in sorted(group, key=lambda r: r is not head):
        info = row.values.get("id_number")
        member = {k: row.values[k] for k in MEMBER_KEYS if k in row.values}
        member["id_number"] = info.number if info else None
        member["is_head"] = row is head
        household.members.append(member)
        household.member_rows.append(row.number)
    household.ok = not found and not any(r.bad for r in group)
    errors.extend(found)
    return household


def check_id_numbers(rows: list[Row], errors: list[RowError]) -> None:
    """No number twice in the file, and none that is already registered (by its keyed hash)."""
    column = BY_KEY["id_number"].header
    first: dict[str, int] = {}
    for row in rows:
        info = row.values.get("id_number")
        if info is None:
            continue
        if info.number in first:
            row.bad.add("id_number")
            errors.append(
                RowError(
                    row.number,
                    column,
                    _("This ID number is also on row %(row)d; one person can be in one household only.")
                    % {"row": first[info.number]},
                    "duplicate_in_file",
                )
            )
        else:
            first[info.number] = row.number
    hashes = {idnumbers.lookup_hash(number): row for number, row in first.items()}
    registered = set()
    for chunk in _chunks(list(hashes)):
        registered.update(
            Member.objects.filter(id_number_hash__in=chunk).values_list("id_number_hash", flat=True)
        )
    by_number = {r.number: r for r in rows}
    for digest in registered:
        row = by_number[hashes[digest]]
        row.bad.add("id_number")
        errors.append(
            RowError(
                row.number,
                column,
                _(
                    "This ID number is already registered in the system; one person can be in "
                    "one household only."
                ),
                "duplicate_id_number",
            )
        )


def check_registration_numbers(households: list[HouseholdPreview], errors: list[RowError]) -> None:
    regs = [h.registration_no for h in households]
    existing = set()
    for chunk in _chunks(regs):
        existing.update(
            Household.objects.filter(registration_no__in=chunk).values_list("registration_no", flat=True)
        )
    for household in households:
        if household.registration_no in existing:
            household.ok = False
            errors.append(
                RowError(
                    household.first_row,
                    BY_KEY["registration_no"].header,
                    _("Household %(reg)s is already registered in the system.")
                    % {"reg": household.registration_no},
                    "duplicate_registration_no",
                )
            )
