"""The quarterly interest-subsidy batches of the demo county."""

from __future__ import annotations

import datetime

from policies.exceptions import CalendarMissing
from subsidies import services as subsidy_services
from subsidies.models import BatchChunk, SubsidyBatch, SubsidyLine


class SeedSubsidies:
    """Interest subsidies; mixed into the `seed_demo` command."""

    # Interest subsidies ------------------------------------------------------------------------

    def subsidies(self, units, users) -> None:
        """The subsidy batches, when the loans' story was already there (the batches are normally
        made in its timeline, see `service_loans`). Skipped once the county has batches, so a
        second run adds nothing."""
        county = units["county"]
        if self.batches_told or self.last_working is None:
            return
        if SubsidyBatch.objects.filter(county=county).exists():
            return
        self.run_events(self.subsidy_events(county, users))
        self.counts["subsidy_lines"] = SubsidyLine.objects.filter(batch__county=county).count()

    def subsidy_events(self, county, users) -> list:
        """The quarter before last as finance left it: computed a week after the quarter, reviewed,
        approved by the second finance officer (four-eyes) and paid; last quarter as the quarterly
        run leaves it on the first working day after the quarter: computed by the system, with a
        notice on the finance dashboard. A batch whose days fall in a year the calendar lacks is
        left out: the quarterly run cannot tell its first working day either."""
        finance, finance2 = users["finance"], users["finance2"]
        last = subsidy_services.previous_quarter(*subsidy_services.quarter_of(self.today))
        before = subsidy_services.previous_quarter(*last)
        events = []
        try:
            first = self.first_working_day_after(SubsidyBatch(year=before[0], quarter=before[1]).quarter_end)
            steps = [self.days.after(first, n) for n in (4, 6, 7, 9)]
        except CalendarMissing as e:
            steps = None
            self.batch_missing(before, e)
        if steps and steps[-1] <= self.last_working:
            compute_on, review_on, approve_on, pay_on = steps
            holder = {}

            def compute():
                holder["batch"] = subsidy_services.batch_create(
                    acting_user=finance, county=county, year=before[0], quarter=before[1]
                )
                subsidy_services.batch_compute(acting_user=finance, batch=holder["batch"])
                self.finish_computing(holder["batch"])

            events += [
                (self.at(compute_on, 9, 30), 0, compute),
                (
                    self.at(review_on, 15),
                    0,
                    lambda: subsidy_services.batch_review(
                        acting_user=finance, batch=holder["batch"], comment="已与银行结息清单核对"
                    ),
                ),
                (
                    self.at(approve_on, 10),
                    0,
                    lambda: subsidy_services.batch_approve(
                        acting_user=finance2, batch=holder["batch"], comment="同意拨付"
                    ),
                ),
                (
                    self.at(pay_on, 11),
                    0,
                    lambda: subsidy_services.batch_pay(
                        acting_user=finance,
                        batch=holder["batch"],
                        paid_on=pay_on,
                        reference=f"CZ{pay_on:%Y%m%d}01",
                    ),
                ),
            ]
        try:
            run_on = self.first_working_day_after(SubsidyBatch(year=last[0], quarter=last[1]).quarter_end)
        except CalendarMissing as e:
            # The nightly run tries anyway, and tells finance and the administrators what it waits for.
            self.batch_missing(last, e)
            run_on = self.today

        def quarterly_run():
            for pk in subsidy_services.quarterly_batches_ensure(on_date=run_on):
                self.finish_computing(SubsidyBatch.objects.get(pk=pk))

        if run_on <= self.today:
            events.append((self.at(run_on, 1), 0, quarterly_run))
        return events

    def first_working_day_after(self, day: datetime.date) -> datetime.date:
        return self.days.after(day + datetime.timedelta(days=1), 0)

    def batch_missing(self, quarter: tuple[int, int], error: CalendarMissing) -> None:
        self.missing_years.add(error.year)
        label = SubsidyBatch(year=quarter[0], quarter=quarter[1]).label
        self.notes.append(f"{label}贴息批次未生成 (no subsidy batch)：{error.message}")

    @staticmethod
    def finish_computing(batch: SubsidyBatch) -> None:
        """Run the batch's chunks here: the whole seed is one transaction, and the queued tasks
        would only start after it commits (they then find every chunk done and do nothing)."""
        for chunk_id in BatchChunk.objects.filter(batch=batch, done=False).values_list("pk", flat=True):
            subsidy_services.chunk_compute(chunk_id=chunk_id)
        subsidy_services.batch_finish_if_done(batch_id=batch.pk)
