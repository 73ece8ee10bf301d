"""`manage.py seed_demo`: a demo county to try the system with.

One county (示范县) with 3 townships and 12 villages, its rural commercial bank with one branch
per township, about 600 registered poor households with 2-5 members each, bank ratings for most
of them, a few blacklisted households, one policy profile and one account per role, all sharing
the password below.

The data is fixed by `SEED`: a fresh database always gets the same people, numbers and scores.
The one exception is the rating dates, placed relative to the day of the run so that ratings are
in force whenever somebody tries the demo. The command only adds what is missing, so running it
again changes nothing and is quick. Writes go through the services, acting as the demo user whose
job the write is (the county poverty office enters households, the branch's loan officer rates,
the county office blacklists), so the demo also leaves the audit trail real work leaves.

It also enters loan applications in every state of the workflow (DOMAIN §4), most of them in the
demo cadre's village and the first branch, so every demo account finds work waiting: drafts,
village review, publicity (one with an objection behind it), the bank's queues, loans disbursed,
rejections and withdrawals. They are walked through the real services by the users whose step it
is, on working days in the recent past (see `clock`), and placed relative to the day of the run
like the ratings.

Then the loans' lives after disbursement (DOMAIN §5, §7): on the day the county went live each
branch imported its existing loans (30 of them, 2024CL0001 and so on, one 户贷企用 through a
cooperative from 2017); since then the branches have imported the banks' quarterly settlement
lists (some interest unpaid, one quarter paid late), recorded repayments (one loan repaid in full),
a borrower's death and the insurer's payout; an extension was approved, a renewal started and a
malicious defaulter blacklisted; the daily ageing leaves loans in every overdue bucket, and the
officers have recorded a few post-loan checks (one classifying worse than the floor); finance
paid the subsidy batch of the quarter before last, and the quarterly run computed last quarter's.
All of it is skipped once the county has imported loans.

Every step is taken on a working day of the calendar (statutory holidays and adjusted working
days, `WorkingDays`), on or before today, in order; an application in publicity has notices
running through today, and notices that ended were moved on by the daily task. On a Saturday, a
holiday or an adjusted working day the story is moved by a few working days where it must be
(`placement`). A year the calendar lacks is never guessed: the story stays on days the calendar
knows (in late December, notices are posted early enough to end within the year; in a year with
no calendar, the story stops at the last working day the calendar knows), whatever would need the
missing year is left undone, and the output names the year an administrator must enter.

Console output here is for developers and is not translated; the role names come from the
catalogue in Chinese.

The command itself only runs the parts in order; each part lives in its own module of the `demo`
app and is mixed into the command, sharing its state (`self.days`, `self.counts`, `self.notes` …):
`demo.dates` (the working days), `demo.regions` (units and accounts), `demo.policies`,
`demo.households` (people, ratings, blacklist), `demo.applications`, `demo.loans` (after
disbursement), `demo.subsidies` and `demo.report` (the output)."""

import time

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import translation

from accounts.models import User
from demo.applications import SeedApplications
from demo.dates import SeedDates
from demo.households import SeedHouseholds
from demo.loans import SeedLoans
from demo.policies import SeedPolicies
from demo.regions import SeedRegions
from demo.report import SeedReport
from demo.riskfund import SeedRiskFund
from demo.subsidies import SeedSubsidies
from policies.models import PolicyProfile


class Command(
    SeedDates,
    SeedRegions,
    SeedPolicies,
    SeedHouseholds,
    SeedApplications,
    SeedLoans,
    SeedRiskFund,
    SeedSubsidies,
    SeedReport,
    BaseCommand,
):
    help = "Loads the demo county (示范县): units, one account per role, ~600 households. Idempotent."

    def handle(self, *args, **options):
        started = time.monotonic()
        with translation.override("zh-hans"), transaction.atomic():
            self.begin()
            units, users, profile = self.population()
            self.applications(units, users, profile)
            self.servicing(units, users, profile)
            self.riskfund_story(units, users)
            self.subsidies(units, users)
        self.report(users, time.monotonic() - started)

    def begin(self) -> None:
        self.counts = {
            "households": 0,
            "ratings": 0,
            "blacklist": 0,
            "skipped": 0,
            "loans": 0,
            "settlements": 0,
            "checks": 0,
            "subsidy_lines": 0,
        }
        self.new_applications: list[str] = []
        self.notes: list[str] = []
        # Years the story needed and the calendar lacks, and the applications moved earlier for them.
        self.missing_years: set[int] = set()
        self.moved_for_calendar = 0
        # Whether the loans' story already told the subsidy batches (see `subsidies`).
        self.batches_told = False
        self.dates()

    def population(self) -> tuple[dict, dict[str, User], PolicyProfile]:
        """The county, its people and the bank's ratings: everything but the story of loans,
        which `applications`, `servicing` and `subsidies` tell on the working days before today."""
        units = self.units()
        users = self.users(units)
        profile = self.profile(units["county"], users["admin"])
        self.riskfund(units, users)
        self.households(units, users, profile)
        return units, users, profile
