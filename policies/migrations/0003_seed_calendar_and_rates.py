"""Seed the working-day calendar for the years the chinese_calendar package covers (2004-2026 in
1.11) and the rate history: the PBOC benchmark rates of 2015-10-24 and every LPR change from
2019-08-20 to 2025-05-20. Later years and later LPR publications are added by administrators
(the calendar and rates pages, or `manage.py load_calendar YEAR` for a year a newer package
covers)."""

from django.db import migrations


def seed(apps, schema_editor):
    from policies import seeding

    seeding.seed_calendar(apps.get_model("policies", "CalendarYear"), apps.get_model("policies", "CalendarDay"))
    seeding.seed_rates(apps.get_model("policies", "Rate"))


def unseed(apps, schema_editor):
    from policies import seeding

    CalendarYear = apps.get_model("policies", "CalendarYear")
    CalendarYear.objects.filter(source=seeding.LIBRARY_SOURCE).delete()
    Rate = apps.get_model("policies", "Rate")
    for kind, tenor, on, _rate, source in seeding.seed_rate_rows():
        Rate.objects.filter(kind=kind, tenor=tenor, effective_from=on, source=source).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("policies", "0002_parameter_help_texts"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
