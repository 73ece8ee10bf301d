"""The household's archive page (一户一档, DOMAIN §9): the checklist grouped by household and loan,
each row present / generated / missing, the uploaded documents with scoped download links, the
upload form, and the link to the dossier PDF. Documents are served only through `document_file`,
scoped like the household, never from a public media URL."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from core.exceptions import ApplicationError

from .. import selectors
from ..checklist import checklist, groups
from ..forms import DocumentUploadForm
from ..services import documents


def _dossier_url(pk) -> str | None:
    try:
        return reverse("archives:dossier_pdf", args=[pk])
    except NoReverseMatch:
        return None


@login_required
def household_archive(request, pk):
    household = selectors.archive_household(user=request.user, pk=pk)
    may_upload = documents.can_upload(request.user, household)
    loans = selectors.household_loans(household)
    form = None
    if may_upload:
        form = DocumentUploadForm(request.POST or None, request.FILES or None, loans=loans)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                documents.document_upload(
                    request.user, household, data["item"], data["file"], loan=data["loan"], note=data["note"]
                )
            except ApplicationError as e:
                form.add_error(e.field if e.field in form.fields else None, e.message)
            else:
                messages.success(request, _("The document was added to the file."))
                return redirect("archives:household_archive", pk=household.pk)
    elif request.method == "POST":
        raise Http404
    rows = checklist(household)
    context = {
        "household": household,
        "groups": groups(rows),
        "form": form,
        "dossier_url": _dossier_url(household.pk),
    }
    return render(request, "archives/archive.html", context, status=400 if form and form.errors else 200)


@login_required
def document_file(request, pk):
    doc = selectors.document_get(user=request.user, pk=pk)
    try:
        handle = doc.file.open("rb")
    except (FileNotFoundError, OSError):
        raise Http404 from None
    response = FileResponse(handle, content_type=doc.content_type)
    response["Content-Disposition"] = content_disposition_header(True, doc.original_name)
    response["X-Content-Type-Options"] = "nosniff"
    return response
