import datetime
from decimal import Decimal

from subsidies.models import SubsidyLine
from subsidies.workflow import State

D = datetime.date


def test_full_quarter(world, make_loan, settle, compute_now, after_q3):
    loan = make_loan()
    settle(loan, D(2025, 6, 20), D(2025, 9, 20), interest_due="555.83", paid_on=D(2025, 9, 20))
    batch = compute_now()
    assert batch.state == State.COMPUTED
    line = SubsidyLine.objects.get(batch=batch)
    assert (line.days, line.rate_used, line.subsidy, line.excluded_reason) == (
        92,
        Decimal("4.3500"),
        Decimal("555.83"),
        "",
    )
    assert batch.total == Decimal("555.83")
