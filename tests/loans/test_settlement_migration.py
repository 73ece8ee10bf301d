"""Migration 0007 adds the no-overlap constraint on settlements; on a database that already holds
overlapping settlements it stops with a list of them and what to do, instead of a bare exclusion
violation, and changes nothing."""

import datetime
import importlib
from decimal import Decimal

import pytest
from django.db import connection

from loans.models import Settlement
from tests.factories import HouseholdFactory, LoanFactory, SettlementFactory

migration = importlib.import_module("loans.migrations.0007_settlement_review")
D = datetime.date


@pytest.mark.django_db
def test_existing_overlaps_are_named_before_the_constraint(world):
    loan = LoanFactory(
        household=HouseholdFactory(village=world.v1a, head__age=40),
        branch=world.br1,
        contract_no="MIG-0001",
        amount=Decimal("50000.00"),
    )
    values = dict(
        loan=loan,
        interest_due=Decimal("555.83"),
        paid_on=None,
        source=Settlement.Source.IMPORT,
        recorded_by=world.officer,
    )
    SettlementFactory(period_start=D(2025, 6, 20), period_end=D(2025, 9, 20), **values)

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    # With the constraint in place the database refuses the overlapping row itself; the check
    # is for databases from before it, so the test lifts it for the moment of the check.
    with connection.cursor() as cursor:
        # Deferred foreign-key checks of the rows above must run before the table is altered.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE loans_settlement DROP CONSTRAINT settlement_periods_no_overlap")
    try:
        SettlementFactory(period_start=D(2025, 6, 21), period_end=D(2025, 9, 21), **values)
        with pytest.raises(RuntimeError) as refused:
            migration.refuse_existing_overlaps(None, editor)
        assert "MIG-0001" in str(refused.value) and "2025-06-21" in str(refused.value)
        Settlement.objects.filter(period_start=D(2025, 6, 21)).delete()
        migration.refuse_existing_overlaps(None, editor)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(
                "ALTER TABLE loans_settlement ADD CONSTRAINT settlement_periods_no_overlap EXCLUDE USING gist"
                " (loan_id WITH =, daterange(period_start, period_end, '[)') WITH &&)"
            )
