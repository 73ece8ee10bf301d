"""The funds themselves (DOMAIN §8; P1 art.37): recording a county's co-managed account at a
co-operating bank, and the figures every fund page and the API show — balance, the profile's
multiple, the bank's outstanding in the county and the headroom left under the cap."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import OrgUnit, Role
from core.audit import audit
from core.exceptions import ApplicationError, NotPermitted

from ..models import RiskFund
from . import leverage
from .leverage import Headroom


def can_create_fund(user, county: OrgUnit | None = None) -> bool:
    """Finance staff or administrators of a county record its funds."""
    unit = getattr(user, "unit", None)
    if unit is None or unit.kind != OrgUnit.Kind.COUNTY or not user.has_role(Role.FINANCE, Role.ADMIN):
        return False
    return county is None or county.pk == unit.pk


@transaction.atomic
def fund_create(
    *, acting_user, county: OrgUnit, bank: OrgUnit, name: str, account_no: str, opened_on: datetime.date
) -> RiskFund:
    """Record the county's co-managed account at a co-operating bank: one per county and bank."""
    if not can_create_fund(acting_user, county):
        raise NotPermitted(_("Only finance staff or administrators of the county record its funds."))
    if bank is None or bank.kind != OrgUnit.Kind.BANK:
        raise ApplicationError(_("Choose a co-operating bank."), "invalid", field="bank")
    name = (name or "").strip()
    account_no = (account_no or "").strip()
    if not name:
        raise ApplicationError(_("Enter the fund's name."), "invalid", field="name")
    if not account_no:
        raise ApplicationError(_("Enter the co-managed account number."), "invalid", field="account_no")
    if RiskFund.objects.filter(county=county, bank=bank).exists():
        raise ApplicationError(
            _("%(county)s already has a fund at %(bank)s.") % {"county": county.name, "bank": bank.name},
            "duplicate",
            field="bank",
        )
    try:
        with transaction.atomic():
            fund = RiskFund.objects.create(
                county=county,
                bank=bank,
                name=name,
                account_no=account_no,
                opened_on=opened_on,
                created_by=acting_user,
            )
    except IntegrityError:
        raise ApplicationError(
            _("%(county)s already has a fund at %(bank)s.") % {"county": county.name, "bank": bank.name},
            "duplicate",
            field="bank",
        ) from None
    audit(
        actor=acting_user,
        action="riskfund.fund_create",
        obj=fund,
        data={
            "county": county.pk,
            "bank": bank.pk,
            "name": name,
            "account_no": account_no,
            "opened_on": opened_on.isoformat(),
        },
    )
    return fund


@dataclass(frozen=True)
class FundFigures:
    """A fund's figures; without a policy profile in force there is no multiple and no cap."""

    fund: RiskFund
    balance: Decimal
    outstanding: Decimal
    multiple: Decimal | None

    @property
    def room(self) -> Headroom | None:
        if self.multiple is None:
            return None
        return Headroom(
            fund=self.fund, balance=self.balance, multiple=self.multiple, outstanding=self.outstanding
        )

    @property
    def cap(self) -> Decimal | None:
        return self.room.cap if self.room else None

    @property
    def headroom(self) -> Decimal | None:
        return self.room.headroom if self.room else None

    @property
    def used_percent(self) -> Decimal | None:
        return self.room.used_percent if self.room else None

    @property
    def warning(self) -> bool:
        return self.room.warning if self.room else True


def fund_figures(funds: Iterable[RiskFund], *, on_date: datetime.date) -> list[FundFigures]:
    """The figures of several funds in a fixed number of queries (whatever the number of entries or
    loans), read by services/leverage.py `headrooms()`: the same balance, outstanding and multiple
    `leverage_check` judges a disbursement by, so the pages and the cap cannot disagree."""
    funds = list(funds)
    if not funds:
        return []
    rooms = {
        room.fund.pk: room
        for room in leverage.headrooms(RiskFund.objects.filter(pk__in=[f.pk for f in funds]), on_date=on_date)
    }
    return [
        FundFigures(
            fund=f,
            balance=rooms[f.pk].balance,
            outstanding=rooms[f.pk].outstanding,
            multiple=rooms[f.pk].multiple,
        )
        for f in funds
    ]
