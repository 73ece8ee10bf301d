"""`manage.py load_calendar 2026 [2027 ...]`: store (or replace) years of the working-day calendar
from the installed chinese_calendar package. Years the package does not cover yet are entered by
an administrator on the calendar page from the State Council's notice."""

from django.core.management.base import BaseCommand, CommandError

from core.exceptions import ApplicationError
from policies import services


class Command(BaseCommand):
    help = "Load years of the working-day calendar from the chinese_calendar package."

    def add_arguments(self, parser):
        parser.add_argument("years", nargs="+", type=int, help="the years to load, e.g. 2026")

    def handle(self, *args, years, **options):
        for year in years:
            try:
                calendar_year = services.calendar_year_load_from_library(year)
            except ApplicationError as e:
                raise CommandError(str(e.message)) from None
            working = calendar_year.days.filter(is_working_day=True).count()
            self.stdout.write(f"{year}: {working} working days ({calendar_year.source})")
