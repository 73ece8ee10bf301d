"""The administrators' page "运行今日定时任务" (issue 14): the scheduled jobs, when each last ran
and what it moved, and a button that runs them all now — for demos and acceptance tests, where
nobody waits for 00:10. It calls every app's tasks, so it lives in config, above all apps."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.models import Role
from core.models import JobRun

from . import daily

# The page's title, also its entry in the administrators' menu (config/context_processors.py).
DAILY_JOBS_TITLE = gettext_lazy("Run today's scheduled jobs")


def _require_admin(user) -> None:
    if not user.has_role(Role.ADMIN):
        raise PermissionDenied(_("Only administrators run the scheduled jobs."))


def _outcome(job: daily.Job, run: JobRun | None) -> str:
    if run is None:
        return ""
    if run.state == JobRun.State.DONE:
        return daily.summary(job.task, run.result)
    if run.state == JobRun.State.FAILED:
        return _("Failed: %(error)s") % {"error": run.error}
    return run.get_state_display()


@login_required
@require_http_methods(["GET", "POST"])
def daily_jobs(request):
    _require_admin(request.user)
    if request.method == "POST":
        runs = daily.jobs_run_now(acting_user=request.user)
        labels = {job.key: job for job in daily.jobs()}
        if daily.eager():
            parts = [_outcome(labels[r.job], r) for r in runs]
            messages.success(
                request, _("Today's scheduled jobs ran: %(what)s") % {"what": _("; ").join(parts)}
            )
        else:
            text = _(
                "%(n)s scheduled jobs were queued: the workers run them; this page shows each when it ends."
            )
            messages.success(request, text % {"n": len(runs)})
        return redirect("daily_jobs")
    last = daily.last_runs()
    rows = [
        {"job": job, "run": last.get(job.key), "outcome": _outcome(job, last.get(job.key))}
        for job in daily.jobs()
    ]
    return render(
        request,
        "core/daily_jobs.html",
        {"title": DAILY_JOBS_TITLE, "rows": rows, "eager": daily.eager()},
    )
