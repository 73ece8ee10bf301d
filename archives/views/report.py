"""The completeness report per village: which households lack which items of their file, on a
page and as XLSX."""

from __future__ import annotations

import io

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.http import content_disposition_header

from .. import report as completeness_report

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@login_required
def report(request):
    villages = completeness_report.report_villages(request.user)
    village = None
    lines = []
    village_id = request.GET.get("village", "")
    if village_id.isdigit():
        village = completeness_report.village_get(user=request.user, pk=int(village_id))
        lines = completeness_report.completeness(user=request.user, village=village)
    context = {
        "villages": villages,
        "village": village,
        "lines": lines,
        "summary": completeness_report.summary(lines),
    }
    return render(request, "archives/report.html", context)


@login_required
def report_xlsx(request, pk):
    village = completeness_report.village_get(user=request.user, pk=pk)
    lines = completeness_report.completeness(user=request.user, village=village)
    stream = io.BytesIO()
    completeness_report.write_xlsx(stream, user=request.user, village=village, lines=lines)
    response = HttpResponse(stream.getvalue(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, completeness_report.filename(village))
    return response
