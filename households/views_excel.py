"""Pages for importing households from Excel and exporting the list. The work is in excel.py (the
layout and the export), excel_reading.py and excel_import.py; these views handle the upload, keep
the file between preview and commit (core.uploads.Staging), and answer."""

from __future__ import annotations

from pathlib import PurePath

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from core import tabular, uploads
from core.exceptions import ApplicationError, NotPermitted

from . import excel, excel_import, idnumbers, selectors
from .forms import FullIdExportForm, HouseholdFilterForm
from .models import Household
from .permissions import can_edit_households, can_see_full_id

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UPLOAD_DIR = "imports"
# The file of a preview without errors waits here until the cadre confirms it.
STAGING = uploads.Staging(session_key="households_excel_import", folder=UPLOAD_DIR)
# The preview page stays readable for a whole county's file; the counts say what is not shown.
SHOW_ERRORS = 500
SHOW_HOUSEHOLDS = 300


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Excel file"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _(
            "An .xlsx file laid out like the template, at most %(mb)d MB and %(rows)d rows."
        ) % {"mb": tabular.MAX_FILE_SIZE // (1024 * 1024), "rows": excel_import.MAX_ROWS}

    def clean_file(self):
        upload = self.cleaned_data["file"]
        name = upload.name.lower()
        if not name.endswith(".xlsx"):
            raise forms.ValidationError(
                _(
                    "Only .xlsx files can be imported. Open the file in Excel or WPS and save it as "
                    "“Excel Workbook (*.xlsx)”."
                )
            )
        if upload.size > tabular.MAX_FILE_SIZE:
            raise forms.ValidationError(tabular.file_too_large_message())
        return upload


class ImportAllowedMixin(LoginRequiredMixin):
    """Village cadres, township and county poverty staff and administrators (DOMAIN §1)."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not can_edit_households(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


def _clean_filename(name: str) -> str:
    return PurePath(name.replace("\\", "/")).name[:100] or "import.xlsx"


def _preview_context(preview: excel_import.ImportPreview, **extra) -> dict:
    return {
        "preview": preview,
        "errors": preview.errors[:SHOW_ERRORS],
        "errors_hidden": max(0, len(preview.errors) - SHOW_ERRORS),
        "households": preview.households[:SHOW_HOUSEHOLDS],
        "households_hidden": max(0, len(preview.households) - SHOW_HOUSEHOLDS),
        **extra,
    }


def _xlsx_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=XLSX)
    # RFC 6266 with a UTF-8 fallback, so the Chinese file name survives every browser.
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


def _list_url() -> str | None:
    try:
        return reverse("households:list")
    except NoReverseMatch:
        return None


class ImportView(ImportAllowedMixin, View):
    template_name = "households/import.html"

    def get(self, request):
        return render(request, self.template_name, {"form": ImportForm(), "columns": excel.COLUMNS})

    def post(self, request):
        form = ImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form, "columns": excel.COLUMNS}, status=400)
        upload = form.cleaned_data["file"]
        filename = _clean_filename(upload.name)
        preview = excel_import.parse_workbook(upload, user=request.user)

        # A new upload replaces whatever was waiting for confirmation.
        STAGING.discard(request.session)
        token = None
        if preview.ok:
            token = STAGING.stage(
                request.session,
                upload,
                suffix=".xlsx",
                filename=filename,
                households=len(preview.households),
                members=preview.member_count,
            )
        context = _preview_context(preview, filename=filename, token=token)
        return render(request, "households/import_preview.html", context)


class ImportCommitView(ImportAllowedMixin, View):
    def get(self, request):
        return HttpResponseRedirect(reverse("households:import"))

    def post(self, request):
        pending = STAGING.pending(request.session, request.POST.get("token"))
        if pending is None:
            messages.error(
                request, _("There is no file waiting to be imported, or it has expired; upload it again.")
            )
            return HttpResponseRedirect(reverse("households:import"))
        filename = pending["filename"]
        try:
            with STAGING.open(pending) as file:
                count = excel_import.import_commit(acting_user=request.user, file=file, filename=filename)
        except excel_import.ImportRejected as e:
            # Something changed since the preview (someone registered the same person meanwhile).
            context = _preview_context(e.preview, filename=filename, token=None, rejected=True)
            return render(request, "households/import_preview.html", context, status=409)
        finally:
            # One attempt per upload: after it, the file (personal data) is not kept.
            STAGING.discard(request.session)
        messages.success(
            request,
            _("Imported %(households)d households with %(members)d members from %(filename)s.")
            % {"households": count, "members": pending.get("members", 0), "filename": filename},
        )
        return HttpResponseRedirect(_list_url() or reverse("households:import"))


class ImportTemplateView(ImportAllowedMixin, View):
    def get(self, request):
        data = excel.import_template(user=request.user)
        return _xlsx_response(data, "贫困户导入模板.xlsx")


# The list's filters that an export with full ID numbers carries from its page to its POST (the
# hidden fields of FullIdExportForm): every one, so the file holds no more households than the list.
FULL_EXPORT_FILTERS = ("q", "village", "status", "grade", "can_apply")


def _export_criteria(request, data) -> dict:
    """The list page's own filter form, read the same way, so the file holds what the list shows."""
    filters = HouseholdFilterForm(data or None, user=request.user)
    return filters.cleaned_data if filters.is_bound and filters.is_valid() else {}


def _export_queryset(request, criteria: dict):
    village = criteria.get("village")
    return selectors.household_search(
        user=request.user,
        q=criteria.get("q", ""),
        village_id=village.pk if village else None,
        status=criteria.get("status", ""),
        grade=criteria.get("grade", ""),
        can_apply=bool(criteria.get("can_apply")),
    )


def _audit_filter(criteria: dict) -> dict:
    """The filter as the audit log keeps it. A search for a whole ID number is kept masked: the
    log must not become a second store of full numbers."""
    q = (criteria.get("q") or "").strip()
    if q and idnumbers.looks_like(q):
        q = idnumbers.mask(idnumbers.normalise(q))
    village = criteria.get("village")
    return {
        "q": q,
        "village": village.pk if village else None,
        "status": criteria.get("status") or "",
        "grade": criteria.get("grade") or "",
        "can_apply": bool(criteria.get("can_apply")),
    }


class ExportView(LoginRequiredMixin, View):
    """The household list as a workbook, filtered by the list page's parameters, with ID numbers
    masked as on the list (DOMAIN §2). Whole numbers are the separate FullIdExportView."""

    def get(self, request):
        criteria = _export_criteria(request, request.GET)
        data = excel.export_workbook(
            user=request.user, queryset=_export_queryset(request, criteria), filters=_audit_filter(criteria)
        )
        filename = f"贫困户名单-{timezone.localdate():%Y%m%d}.xlsx"
        return _xlsx_response(data, filename)


class FullIdExportView(LoginRequiredMixin, View):
    """The export with whole ID numbers (PIPL art.28): only for roles that may see them, with a
    stated purpose, recorded, and marked on the sheet as sensitive personal information."""

    template_name = "households/export_full.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not can_see_full_id(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def _render(self, request, form, criteria, status=200):
        status_label = dict(Household.PovertyStatus.choices).get(criteria.get("status") or "", "")
        # The list's filters, named as the list's filter form names them.
        grade_label = dict(HouseholdFilterForm.base_fields["grade"].choices).get(
            criteria.get("grade") or "", ""
        )
        context = {
            "form": form,
            "count": _export_queryset(request, criteria).count(),
            "criteria": criteria,
            "status_label": status_label,
            "grade_label": grade_label,
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        criteria = _export_criteria(request, request.GET)
        initial = {key: request.GET.get(key, "") for key in FULL_EXPORT_FILTERS}
        return self._render(request, FullIdExportForm(initial=initial), criteria)

    def post(self, request):
        form = FullIdExportForm(request.POST)
        filter_data = {key: request.POST.get(key, "") for key in FULL_EXPORT_FILTERS}
        criteria = _export_criteria(request, filter_data)
        if not form.is_valid():
            return self._render(request, form, criteria, status=400)
        try:
            data = excel.export_workbook(
                user=request.user,
                queryset=_export_queryset(request, criteria),
                full_ids=True,
                purpose=form.cleaned_data["purpose"],
                filters=_audit_filter(criteria),
            )
        except NotPermitted as e:
            raise PermissionDenied(e.message) from None
        except ApplicationError as e:
            form.add_error("purpose", e.message)
            return self._render(request, form, criteria, status=400)
        filename = f"贫困户名单-完整身份证号-{timezone.localdate():%Y%m%d}.xlsx"
        response = _xlsx_response(data, filename)
        response["Cache-Control"] = "no-store"
        return response
