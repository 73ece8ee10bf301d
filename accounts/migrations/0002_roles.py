from django.db import migrations

ROLES = [
    "village_cadre",
    "township_officer",
    "county_office",
    "loan_officer",
    "approver",
    "finance",
    "fund_committee",
    "admin",
]


def create_roles(apps, schema_editor):
    Role = apps.get_model("accounts", "Role")
    for code in ROLES:
        Role.objects.get_or_create(code=code)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
