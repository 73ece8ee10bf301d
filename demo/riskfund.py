"""The demo county's risk-compensation fund (DOMAIN §8): its co-managed account at the bank, opened
before the first loan with the county's deposit, so the leverage cap lets the demo's loans through."""

from __future__ import annotations

from decimal import Decimal

from riskfund.models import LedgerTransaction, RiskFund
from riskfund.services import ledger

from .dates import clock

OPENING_DEPOSIT = Decimal("3000000.00")


class SeedRiskFund:
    """The fund; mixed into the `seed_demo` command."""

    def riskfund(self, units, users) -> RiskFund:
        """The fund and its opening deposit by finance (3 million yuan, 10× = 30 million of lending),
        on the first working day the demo's calendar knows, before any step of the loans' story; a
        second run finds it and adds nothing."""
        opened_on = min(self.days.working, default=self.today)
        fund, created = RiskFund.objects.get_or_create(
            county=units["county"],
            bank=units["bank"],
            defaults={
                "name": f"{units['county'].name}扶贫小额信贷风险补偿金",
                "account_no": "6230 5201 8800 0001",
                "opened_on": opened_on,
                "created_by": users["finance"],
            },
        )
        if not LedgerTransaction.objects.filter(fund=fund).exists():
            with clock(min(self.at(opened_on, 9, 30), self.real_now)):
                ledger.movement_record(
                    acting_user=users["finance"],
                    fund=fund,
                    kind=LedgerTransaction.Kind.DEPOSIT,
                    amount=OPENING_DEPOSIT,
                    booked_on=opened_on,
                    memo="县财政首次存入风险补偿金（专户存储、封闭运行）",
                    reference=f"CZ-{opened_on.year}-001",
                )
        return fund
