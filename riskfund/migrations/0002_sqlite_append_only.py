from django.db import migrations

# On PostgreSQL pgtrigger's triggers (0001) refuse UPDATE and DELETE of ledger rows and check at
# commit that each transaction balances and the fund stays at or above zero. The embedded SQLite of
# the local settings gets the append-only refusal from plain SQLite triggers, as the audit trail
# does (core 0003); there the services alone check balance and sign.
TABLES = ("riskfund_ledgertransaction", "riskfund_ledgerentry")


def _triggers():
    for table in TABLES:
        for operation in ("UPDATE", "DELETE"):
            name = f"{table}_no_{operation.lower()}"
            yield name, (
                f"CREATE TRIGGER IF NOT EXISTS {name} BEFORE {operation} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'Cannot update or delete rows from {table} table'); END"
            )


def sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for _name, sql in _triggers():
            schema_editor.execute(sql)


def drop_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for name, _sql in _triggers():
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("riskfund", "0001_initial")]

    operations = [migrations.RunPython(sqlite_triggers, drop_sqlite_triggers, elidable=False)]
