"""Downloads of a subsidy batch: the detail list (XLSX), the summary for signature and the public
list (PDF), the payment file for the bank (CSV). The files are built in exports.py.

Every download reads the batch through selectors.batch_get (404 outside the user's county) and
its lines through selectors.line_list (a village cadre gets the village's lines), and leaves an
audit record: personal and payment data leave the system with it."""

from __future__ import annotations

import functools
import tempfile

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpResponse
from django.template import engines
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.audit import audit
from core.exceptions import ConflictError

from . import exports, selectors
from .models import SubsidyBatch

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"
CSV = "text/csv; charset=utf-8"

# The refusal is a page of its own (the download link leads here), in the site's layout. Its words
# come from gettext in _refused: makemessages reads no template tags inside a .py file.
REFUSED_PAGE = """{% extends "base.html" %}
{% block title %}{{ heading }}{% endblock %}
{% block content %}
<div class="card">
  <h1>{{ heading }}</h1>
  <p>{{ message }}</p>
  <p><a class="btn" href="{{ back_url }}">{{ back_label }}</a></p>
</div>
{% endblock %}"""


def _refused(request, batch: SubsidyBatch, error: ConflictError) -> HttpResponse:
    template = engines["django"].from_string(REFUSED_PAGE)
    context = {
        "heading": _("Export not available"),
        "message": error.message,
        "back_url": reverse("subsidies:batch_detail", args=[batch.pk]),
        "back_label": _("Back to the batch"),
    }
    return HttpResponse(template.render(context, request), status=error.status_code)


def _check_state(batch: SubsidyBatch, kind: str) -> None:
    """Refuse (409) an export the batch's state does not offer."""
    state = batch.get_state_display()
    if kind == "payment" and batch.state not in exports.PAYABLE_STATES:
        raise ConflictError(
            _(
                "The payment file is made once the batch is approved; this batch is “%(state)s”. "
                "Have it reviewed and approved first."
            )
            % {"state": state},
            "not_approved",
            {"state": batch.state},
        )
    if kind == "public" and batch.state not in exports.PUBLIC_STATES:
        raise ConflictError(
            _(
                "The public list is printed once the batch is computed, and never for a cancelled one; "
                "this batch is “%(state)s”."
            )
            % {"state": state},
            "not_public",
            {"state": batch.state},
        )
    if batch.state not in exports.DETAIL_STATES:
        raise ConflictError(
            _("The batch has no complete lines yet (it is “%(state)s”); export it once it is computed.")
            % {"state": state},
            "not_computed",
            {"state": batch.state},
        )


def _export(kind: str, *, finance_only: bool = False):
    """A download view of `kind`: login, the batch in the user's scope (404), the finance check
    when asked (403), the state check (a 409 page), then the view with the batch and the lines
    the user may see."""

    def wrap(view):
        @login_required
        @require_GET
        @functools.wraps(view)
        def export(request, pk):
            batch = selectors.batch_get(user=request.user, pk=pk)
            if finance_only and not batch.is_county_finance(request.user):
                raise PermissionDenied
            try:
                _check_state(batch, kind)
            except ConflictError as error:
                return _refused(request, batch, error)
            return view(request, batch, selectors.line_list(user=request.user, batch=batch))

        return export

    return wrap


def _record(request, batch: SubsidyBatch, kind: str, result: exports.ExportResult) -> None:
    audit(actor=request.user, action=f"subsidy_batch.export_{kind}", obj=batch, data=result.audit_data())


def _download(data: bytes, content_type: str, name: str) -> HttpResponse:
    response = HttpResponse(data, content_type=content_type)
    # RFC 6266 with a UTF-8 fallback, so the Chinese file name survives every browser.
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@_export("detail")
def export_xlsx(request, batch, lines):
    # A county's workbook can run to megabytes: built in a temporary file, not in memory.
    file = tempfile.TemporaryFile()
    try:
        result = exports.write_detail_xlsx(file, batch=batch, lines=lines, user=request.user)
    except BaseException:
        file.close()
        raise
    _record(request, batch, "xlsx", result)
    file.seek(0)
    return FileResponse(
        file, as_attachment=True, filename=exports.filename(batch, "detail", "xlsx"), content_type=XLSX
    )


@_export("summary")
def export_summary_pdf(request, batch, lines):
    data, result = exports.summary_pdf(batch=batch, lines=lines, user=request.user)
    _record(request, batch, "summary_pdf", result)
    return _download(data, PDF, exports.filename(batch, "summary", "pdf"))


@_export("public")
def export_public_pdf(request, batch, lines):
    village = None
    if value := request.GET.get("village"):
        if not value.isdigit():
            raise Http404
        village = selectors.batch_village(user=request.user, batch=batch, pk=int(value))
    data, result = exports.public_pdf(batch=batch, lines=lines, village=village)
    _record(request, batch, "public_pdf", result)
    name = exports.filename(batch, "public", "pdf")
    if village is not None:
        name = f"{exports.export_title(batch, 'public')} {village.name}.pdf"
    return _download(data, PDF, name)


# Payment data is the finance bureau's: its staff of the batch's county, nobody else.
@_export("payment", finance_only=True)
def export_payment_csv(request, batch, lines):
    response = HttpResponse(content_type=CSV)
    response["Content-Disposition"] = content_disposition_header(
        True, exports.filename(batch, "payment", "csv")
    )
    result = exports.write_payment_csv(response, batch=batch, lines=lines)
    _record(request, batch, "payment_csv", result)
    return response
