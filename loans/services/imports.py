"""Import of existing loans (存量贷款) from the bank's books: a CSV (UTF-8, with or without BOM,
or GBK) or an XLSX sheet, one loan a row, with Chinese headers (the English field names are
accepted too). The file's format, its cells and the checks within one row are import_rows.py.

It follows the household import (households/excel_import.py) with the shared cell readers of
core/tabular.py: every row is checked and every problem reported at once (row number, column,
message); nothing is written unless no row failed, and then every loan is written in one
transaction."""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import OrgUnit, Role
from accounts.scoping import village_q
from core.audit import audit
from core.exceptions import ApplicationError, NotPermitted
from core.tabular import RowError
from households import idnumbers
from households.models import Household, Member
from policies.exceptions import PolicyProfileMissing, RateMissing
from policies.selectors import contract_rate_for, profile_for, rate_kind_for

from .. import lifecycle
from ..choices import UseMode
from ..eligibility import SOURCES
from ..models import Loan
from .import_rows import COLUMNS, LoanImportPreview, LoanRow, column_error, read_file

QUERY_CHUNK = 900
# The bank's rate and the rate table's may differ by rounding in the last stored place only.
RATE_TOLERANCE = Decimal("0.0001")


def error_rows(errors: list[RowError]) -> list[dict]:
    return [{"row": e.row, "column": e.column, "message": e.message} for e in errors]


class LoanImportRejected(ApplicationError):
    """The file has errors; nothing was written. The errors are on `preview`."""

    def __init__(self, preview: LoanImportPreview):
        super().__init__(
            _("The file has %(n)d errors; nothing was imported.") % {"n": len(preview.errors)},
            "invalid",
            {"rows": error_rows(preview.errors)},
        )
        self.preview = preview


def can_import_loans(user) -> bool:
    """Loan officers (for the townships their branch serves) and administrators."""
    return getattr(user, "is_authenticated", False) and user.has_role(Role.LOAN_OFFICER, Role.ADMIN)


def check_import_allowed(user) -> None:
    if not can_import_loans(user):
        raise NotPermitted(_("Only loan officers and administrators may import existing loans."))


# ---------------------------------------------------------------------------------------------
# Checks across rows and against the database


def _chunks(items: list, size: int = QUERY_CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _check_numbers(rows: list[LoanRow], errors: list[RowError]) -> None:
    """Contract and receipt numbers: once in the file and not yet in the system."""
    for key, field_name in (("contract_no", "contract_no"), ("receipt_no", "receipt_no")):
        first: dict[str, int] = {}
        for row in rows:
            number = row.values.get(key)
            if not number:
                continue
            if number in first:
                errors.append(
                    column_error(
                        row.row,
                        key,
                        _("“%(value)s” is also on row %(row)d.") % {"value": number, "row": first[number]},
                        "duplicate_in_file",
                    )
                )
                row.ok = False
            else:
                first[number] = row.row
        existing: set[str] = set()
        for chunk in _chunks(list(first)):
            existing.update(
                Loan.objects.filter(**{f"{field_name}__in": chunk}).values_list(field_name, flat=True)
            )
        for row in rows:
            number = row.values.get(key)
            if number in existing:
                errors.append(
                    column_error(
                        row.row,
                        key,
                        _("A loan with “%(value)s” is already in the system.") % {"value": number},
                        "duplicate",
                    )
                )
                row.ok = False


def _resolve_people(rows: list[LoanRow], user, errors: list[RowError]) -> None:
    """Household and borrower of each row, looked up in the user's area only. A household or a
    member outside it is not found, exactly as one that is not registered at all: the same message,
    the same code, the same queries. So a file cannot be used to learn whether an ID number is
    registered in another area, or who belongs to which household there (PIPL art. 28, 51)."""
    regs = sorted({r.values["registration_no"] for r in rows if r.values.get("registration_no")})
    hashes = {r.row: idnumbers.lookup_hash(r.values["id_number"]) for r in rows if r.values.get("id_number")}

    households: dict[str, Household] = {}
    in_area = Household.objects.filter(village_q(user, "village"))
    for chunk in _chunks(regs):
        for h in in_area.filter(registration_no__in=chunk).select_related("village__parent"):
            households[h.registration_no] = h
    members: dict[str, Member] = {}
    members_in_area = Member.objects.filter(village_q(user, "household__village"))
    for chunk in _chunks(sorted(set(hashes.values()))):
        for m in members_in_area.filter(id_number_hash__in=chunk).select_related(
            "household__village__parent"
        ):
            members[m.id_number_hash] = m
    household_ids = {h.pk for h in households.values()} | {m.household_id for m in members.values()}
    heads = {}
    for chunk in _chunks(sorted(household_ids)):
        heads.update((m.household_id, m) for m in Member.objects.filter(household_id__in=chunk, is_head=True))

    for row in rows:
        reg = row.values.get("registration_no")
        household = borrower = None
        if reg:
            household = households.get(reg)
            if household is None:
                errors.append(
                    column_error(
                        row.row,
                        "registration_no",
                        _("No household in your area is registered under “%(value)s”.") % {"value": reg},
                        "unknown_household",
                    )
                )
                row.ok = False
                continue
        if row.row in hashes:
            borrower = members.get(hashes[row.row])
            if borrower is None:
                errors.append(
                    column_error(
                        row.row,
                        "id_number",
                        _("No household member in your area is registered with this ID number."),
                        "unknown_borrower",
                    )
                )
                row.ok = False
                continue
            if household is not None and borrower.household_id != household.pk:
                errors.append(
                    column_error(
                        row.row,
                        "id_number",
                        _("The borrower is not a member of household %(household)s.") % {"household": reg},
                        "not_a_member",
                    )
                )
                row.ok = False
                continue
            household = borrower.household
        elif household is not None:
            borrower = heads.get(household.pk)
            if borrower is None:
                errors.append(
                    column_error(
                        row.row,
                        "registration_no",
                        _("The household has no head; give the borrower's ID number."),
                        "no_head",
                    )
                )
                row.ok = False
                continue
        if household is None:
            continue
        row.household, row.borrower = household, borrower


def _resolve_branches(rows: list[LoanRow], user, errors: list[RowError]) -> None:
    """The branch serving the household's township; the importing officer's own when it does."""
    townships = {r.household.village.parent_id for r in rows if r.household is not None}
    serving: dict[int, list[OrgUnit]] = defaultdict(list)
    through = OrgUnit.served_townships.through
    links = through.objects.filter(to_orgunit_id__in=townships).select_related("from_orgunit")
    for link in sorted(links, key=lambda x: (x.from_orgunit.code, x.from_orgunit_id)):
        serving[link.to_orgunit_id].append(link.from_orgunit)
    own = user.unit if getattr(user.unit, "kind", None) == OrgUnit.Kind.BRANCH else None
    for row in rows:
        if row.household is None:
            continue
        branches = serving.get(row.household.village.parent_id, [])
        if own is not None and any(b.pk == own.pk for b in branches):
            row.branch = own
        elif branches:
            row.branch = branches[0]
        else:
            errors.append(
                column_error(
                    row.row,
                    "registration_no" if row.values.get("registration_no") else "id_number",
                    _("No bank branch serves this household's township."),
                    "no_branch",
                )
            )
            row.ok = False


def _percent(value: Decimal) -> str:
    """4.3500 → 4.35, 10.0000 → 10: as the rate is written in a contract."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _check_policy(rows: list[LoanRow], errors: list[RowError], warnings: list[RowError]) -> None:
    """The rules of the county's profile in force on each loan's disbursement date (the contract
    date): the rate basis when the file leaves it blank (DOMAIN §5, from the same selectors that
    price a disbursement), the entrusted-use cutoff (DOMAIN §3), and a warning when the bank's rate
    is not the table's rate for that contract. Profiles and rates are read once per county and
    date (and term), not once per row."""
    counties = OrgUnit.objects.in_bulk(
        {r.household.village.parent.parent_id for r in rows if r.household is not None}
    )
    profiles: dict = {}
    table_rates: dict = {}

    def profile(county_id, on_date):
        key = (county_id, on_date)
        if key not in profiles:
            try:
                profiles[key] = profile_for(county=counties[county_id], on_date=on_date)
            except PolicyProfileMissing:
                # A loan older than the county's first profile (only the first may be back-dated,
                # and a county may start on this system long after its oldest loans): the import
                # is the action, so the profile in force on the day of the import judges it
                # (DOMAIN §10).
                try:
                    profiles[key] = profile_for(county=counties[county_id], on_date=timezone.localdate())
                except PolicyProfileMissing as e:
                    profiles[key] = e
        return profiles[key]

    def table_rate(basis, term, on_date):
        key = (basis, term, on_date)
        if key not in table_rates:
            try:
                table_rates[key] = contract_rate_for(basis=basis, term_months=term, contract_date=on_date)
            except RateMissing:
                # Nothing to compare with; the bank's rate is what the contract says.
                table_rates[key] = None
        return table_rates[key]

    for row in rows:
        v = row.values
        disbursed = v.get("disbursed_on")
        if row.household is None or disbursed is None:
            continue
        given = v.get("rate_basis")
        needs_profile = not given or v.get("use_mode") == UseMode.ENTRUSTED
        p = profile(row.household.village.parent.parent_id, disbursed) if needs_profile else None
        if isinstance(p, PolicyProfileMissing):
            errors.append(column_error(row.row, "disbursed_on", p.message, p.code))
            row.ok = False
            continue
        if v.get("use_mode") == UseMode.ENTRUSTED and disbursed > p.entrusted_cutoff:
            errors.append(
                column_error(
                    row.row,
                    "use_mode",
                    _(
                        "Entrusting the loan to an enterprise (户贷企用) is forbidden for loans issued after "
                        "%(cutoff)s (%(source)s); this loan was disbursed on %(date)s, so it cannot be "
                        "imported as an entrusted loan."
                    )
                    % {
                        "cutoff": p.entrusted_cutoff.isoformat(),
                        "source": SOURCES["use_mode"],
                        "date": disbursed.isoformat(),
                    },
                    "entrusted_after_cutoff",
                )
            )
            row.ok = False
            continue
        basis = given or p.rate_basis
        row.rate_basis = given or rate_kind_for(basis=basis, contract_date=disbursed)
        maturity, rate = v.get("maturity_on"), v.get("rate")
        if maturity is None or rate is None or maturity <= disbursed:
            continue
        table = table_rate(basis, term_months(disbursed, maturity), disbursed)
        if table is not None and abs(rate - table.annual_rate) > RATE_TOLERANCE:
            warnings.append(
                column_error(
                    row.row,
                    "rate",
                    _(
                        "The bank's rate %(rate)s%% is not the %(table)s%% of the rate table for a "
                        "contract of %(date)s (%(tenor)s in force since %(since)s). The loan is imported "
                        "at the bank's rate, which is what the contract says; check that it is right."
                    )
                    % {
                        "rate": _percent(rate),
                        "table": _percent(table.annual_rate),
                        "date": disbursed.isoformat(),
                        "tenor": table.get_tenor_display(),
                        "since": table.effective_from.isoformat(),
                    },
                    "rate_differs",
                )
            )


def _sorted(errors: list[RowError]) -> list[RowError]:
    order = {c.header: i for i, c in enumerate(COLUMNS)}
    unique = list(dict.fromkeys(errors))
    return sorted(unique, key=lambda e: (e.row is not None, e.row or 0, order.get(e.column, -1)))


def _check(file, filename: str, user) -> LoanImportPreview:
    preview = LoanImportPreview()
    rows = read_file(file, filename, preview)
    preview.rows = len(rows)
    if rows:
        _check_numbers(rows, preview.errors)
        _resolve_people(rows, user, preview.errors)
        _resolve_branches(rows, user, preview.errors)
        _check_policy(rows, preview.errors, preview.warnings)
    preview.loans = rows
    preview.errors = _sorted(preview.errors)
    preview.warnings = _sorted(preview.warnings)
    return preview


def parse_loans(file, filename: str, *, user) -> LoanImportPreview:
    """Read and check every row. Nothing is written."""
    check_import_allowed(user)
    return _check(file, filename, user)


# ---------------------------------------------------------------------------------------------
# Writing


def term_months(disbursed: datetime.date, maturity: datetime.date) -> int:
    """Whole months from disbursement to maturity, a started month counting as one."""
    delta = relativedelta(maturity, disbursed)
    months = delta.years * 12 + delta.months
    return max(1, months + (1 if delta.days > 0 else 0))


def _loan(row: LoanRow, acting_user) -> Loan:
    v = row.values
    settled = v["outstanding"] == 0
    return Loan(
        household=row.household,
        borrower=row.borrower,
        branch=row.branch,
        contract_no=v["contract_no"],
        receipt_no=v["receipt_no"],
        amount=v["amount"],
        rate=v["rate"],
        rate_basis=row.rate_basis,
        term_months=term_months(v["disbursed_on"], v["maturity_on"]),
        disbursed_on=v["disbursed_on"],
        maturity_on=v["maturity_on"],
        use_mode=v["use_mode"],
        purpose_category=v.get("purpose", ""),
        outstanding=v["outstanding"],
        # Creation is the lifecycle's start (lifecycle.py): a loan from the bank's books is created
        # active, or settled when nothing is outstanding; a protected state may be given at creation.
        state=Loan.State.SETTLED if settled else Loan.State.ACTIVE,
        settled_on=(v.get("settled_on") or v["maturity_on"]) if settled else None,
        imported=True,
        entity_name=v.get("entity_name", ""),
        account_no=v.get("account_no", ""),
        disbursed_by=None,
    )


@transaction.atomic
def import_loans(*, acting_user, file, filename: str) -> int:
    """Create every loan of the file, or none: any error raises LoanImportRejected with every
    row's problems and writes nothing. Returns the number of loans created."""
    check_import_allowed(acting_user)
    preview = _check(file, filename, acting_user)
    if preview.errors:
        raise LoanImportRejected(preview)
    loans = [_loan(row, acting_user) for row in preview.loans]
    try:
        # A savepoint, so a number taken meanwhile by another import is reported, not a 500.
        with transaction.atomic():
            created = Loan.objects.bulk_create(loans, batch_size=500)
    except IntegrityError:
        preview.errors = [
            RowError(
                None,
                "",
                _(
                    "A contract or receipt number of the file was used by another loan meanwhile; "
                    "upload it again."
                ),
                "duplicate",
            )
        ]
        raise LoanImportRejected(preview) from None
    lifecycle.begin(created, "import", acting_user)
    audit(
        actor=acting_user,
        action="loan.import",
        obj=acting_user.unit or acting_user,
        reason=_("Existing-loan import %(filename)s") % {"filename": filename},
        data={
            "filename": filename,
            "count": len(created),
            "loans": [loan.pk for loan in created],
            "warnings": error_rows(preview.warnings),
        },
    )
    return len(created)
