"""Batch printing pages (issue 13): choose a village or township and the output, follow the job's
progress (polled as JSON), see the households that failed, and download the result."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from ..models import DossierJob
from ..services import batch


class BatchForm(forms.Form):
    unit = forms.ModelChoiceField(queryset=None, label=gettext_lazy("Village or township"))
    mode = forms.ChoiceField(
        choices=DossierJob.Mode.choices, initial=DossierJob.Mode.ZIP, label=gettext_lazy("Output")
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = batch.batch_units(user)


@login_required
def batch_list(request):
    if not batch.can_batch(request.user):
        raise PermissionDenied
    form = BatchForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        job = batch.dossier_job_start(
            acting_user=request.user, unit=form.cleaned_data["unit"], mode=form.cleaned_data["mode"]
        )
        messages.success(request, _("The batch is queued; this page follows its progress."))
        return redirect("archives:batch_detail", pk=job.pk)
    return render(
        request, "archives/batch_list.html", {"form": form, "jobs": batch.recent_jobs(request.user)}
    )


@login_required
def batch_detail(request, pk):
    job = batch.job_get(user=request.user, pk=pk)
    context = {
        "job": job,
        "progress": batch.job_progress(job),
        "failures": batch.job_failures(job),
        "running": job.state in (DossierJob.State.QUEUED, DossierJob.State.RUNNING),
        "may_download": batch.may_download(request.user, job),
    }
    return render(request, "archives/batch_detail.html", context)


@login_required
def batch_progress(request, pk):
    """Polled by the job page while it prints."""
    job = batch.job_get(user=request.user, pk=pk)
    return JsonResponse(batch.job_progress(job))


@login_required
@require_POST
def batch_resume(request, pk):
    job = batch.job_get(user=request.user, pk=pk)
    batch.dossier_job_resume(acting_user=request.user, job=job)
    messages.success(request, _("The batch continues with the households not printed yet."))
    return redirect("archives:batch_detail", pk=job.pk)


@login_required
def batch_download(request, pk):
    job = batch.job_get(user=request.user, pk=pk)
    opened = batch.job_download(acting_user=request.user, job=job)
    content_type = "application/zip" if job.mode == DossierJob.Mode.ZIP else "application/pdf"
    name = batch.result_name(job)
    return FileResponse(opened, as_attachment=True, filename=name, content_type=content_type)
