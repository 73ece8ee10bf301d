"""The household's dossier as one PDF (issue 13), shown inline: scoped like the household (404
outside the user's area), every print audited (archives.dossier.dossier_pdf)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.utils.http import content_disposition_header

from .. import dossier, selectors


@login_required
def dossier_pdf(request, pk):
    household = selectors.archive_household(user=request.user, pk=pk)
    printed = dossier.dossier_pdf(household, user=request.user, via="page")
    response = HttpResponse(printed.pdf, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(False, dossier.dossier_filename(household))
    response["Cache-Control"] = "private, no-store"
    return response
