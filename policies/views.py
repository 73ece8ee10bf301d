"""Pages for policy profiles, interest rates and the working-day calendar."""

from __future__ import annotations

import datetime
from pathlib import PurePath

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import DecimalField, Model
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, FormView, ListView, TemplateView

from accounts.models import Role
from core import uploads
from core.exceptions import ApplicationError
from core.templatetags import core_tags

from . import calendar_files, seeding, selectors, services
from .forms import (
    PROFILE_SECTIONS,
    CalendarImportForm,
    CalendarYearForm,
    LibraryYearForm,
    ProfileForm,
    RateForm,
    WorkingDaysForm,
)
from .models import PolicyProfile
from .templatetags.citation_tags import cite_text


def _is_admin(user) -> bool:
    return user.is_authenticated and user.has_role(Role.ADMIN)


class AdminRequiredMixin(LoginRequiredMixin, UserPassesTestMixin):
    """Signed-in users without the admin role get 403; anonymous ones go to the login page."""

    def test_func(self):
        return _is_admin(self.request.user)


def form_errors_from(form, error: Exception) -> None:
    """Put a service's ValidationError or ApplicationError next to the field it concerns."""
    if isinstance(error, ValidationError):
        if hasattr(error, "error_dict"):
            for field, messages_ in error.message_dict.items():
                form.add_error(field if field in form.fields else None, messages_)
        else:
            form.add_error(None, error.messages)
        return
    field = error.field if error.field in form.fields else None
    form.add_error(field, str(error.message))


# ---- policy profiles -----------------------------------------------------------------------------


def _display(profile: PolicyProfile, name: str):
    field = PolicyProfile._meta.get_field(name)
    value = getattr(profile, name)
    if name == "publicity_levels":
        labels = dict(PolicyProfile.PUBLICITY_LEVELS)
        return " → ".join(str(labels.get(level, level)) for level in value or [])
    if field.choices:
        return getattr(profile, f"get_{name}_display")()
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if value is None:
        return _("No limit")
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, datetime.date):
        return value.strftime("%Y-%m-%d")  # dates as on every page (issue 14)
    if isinstance(field, DecimalField):
        # Shares as percentages (subsidy share 1.0000 → 100%), a multiple as a plain number,
        # amounts as banks print them (50,000.00), as on every page (issue 14).
        if field.decimal_places == 4 or name.endswith("_fraction"):
            return core_tags.percent(value)
        if name == "leverage_multiple":
            return core_tags.thousands(value)
        return core_tags.money(value)
    return value


def profile_sections(profile: PolicyProfile):
    """(title, [(label, value, help text)]) for every parameter group, for the detail page."""
    return [
        (
            title,
            [
                (
                    PolicyProfile._meta.get_field(name).verbose_name,
                    _display(profile, name),
                    PolicyProfile._meta.get_field(name).help_text,
                )
                for name in names
            ],
        )
        for _key, title, names in PROFILE_SECTIONS[1:]
    ]


class ProfileListView(LoginRequiredMixin, ListView):
    template_name = "policies/profile_list.html"
    paginate_by = 25
    context_object_name = "profiles"

    def get_queryset(self):
        county = self.request.GET.get("county", "")
        return selectors.profile_list(
            user=self.request.user, county_id=int(county) if county.isdigit() else None
        )

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        today = timezone.localdate()
        for profile in ctx["profiles"]:
            profile.status = selectors.profile_status(profile, today)
            profile.effective_to = (
                profile.next_from - datetime.timedelta(days=1) if profile.next_from else None
            )
        ctx["counties"] = selectors.county_choices(user=self.request.user)
        ctx["county"] = self.request.GET.get("county", "")
        ctx["is_admin"] = _is_admin(self.request.user)
        ctx["today"] = today
        return ctx


class ProfileDetailView(LoginRequiredMixin, DetailView):
    template_name = "policies/profile_detail.html"
    context_object_name = "profile"

    def get_queryset(self):
        # Scoped: a profile of a county the user does not see answers 404.
        return selectors.profile_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        profile = ctx["profile"]
        today = timezone.localdate()
        profile.status = selectors.profile_status(profile, today)
        versions = list(selectors.profile_list(user=self.request.user, county_id=profile.county_id))
        for version in versions:
            version.status = selectors.profile_status(version, today)
        ctx["versions"] = versions
        ctx["sections"] = profile_sections(profile)
        ctx["is_admin"] = _is_admin(self.request.user)
        return ctx


class ProfileCreateView(AdminRequiredMixin, FormView):
    """ "Edit" of a profile: a new version, prefilled from the county's latest profile (the one in
    force, unless a later one is already scheduled) or from the version given as ?from=."""

    template_name = "policies/profile_form.html"
    form_class = ProfileForm

    def get_base(self):
        if hasattr(self, "_base"):
            return self._base
        source, county = self.request.GET.get("from", ""), self.request.GET.get("county", "")
        self._base = selectors.profile_to_copy(
            user=self.request.user,
            pk=int(source) if source.isdigit() else None,
            county_id=int(county) if county.isdigit() else None,
        )
        return self._base

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_initial(self):
        base = self.get_base()
        county = self.request.GET.get("county", "")
        if base is None:
            initial = {}
            if county.isdigit():
                initial["county"] = int(county)
            else:
                counties = list(selectors.county_choices(user=self.request.user)[:2])
                if len(counties) == 1:
                    initial["county"] = counties[0].pk
            return initial
        initial = {name: getattr(base, name) for name in services.PARAMETER_FIELDS}
        initial.update(county=base.county_id, name=base.name, effective_from=timezone.localdate())
        return initial

    def get_form(self, form_class=None):
        form = super().get_form(form_class)
        # Help texts cite the policy texts by code ("P1 art.10", "第三篇§3.2"): shown as
        # 《临桂区实施细则》第十条 with the full title on hover (issue 14).
        for field in form.fields.values():
            if field.help_text:
                field.help_text = cite_text(field.help_text)
        return form

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["base"] = self.get_base()
        return ctx

    def form_valid(self, form):
        data = dict(form.cleaned_data)
        try:
            profile = services.profile_create(acting_user=self.request.user, **data)
        except (ValidationError, ApplicationError) as error:
            form_errors_from(form, error)
            return self.form_invalid(form)
        messages.success(
            self.request,
            _("The new profile for %(county)s takes effect on %(date)s.")
            % {"county": profile.county, "date": profile.effective_from},
        )
        return redirect("policies:profile_detail", pk=profile.pk)


# ---- interest rates ------------------------------------------------------------------------------


class RateListView(LoginRequiredMixin, ListView):
    """The rate table for everyone; administrators also get the form to add a publication."""

    template_name = "policies/rate_list.html"
    paginate_by = 50
    context_object_name = "rates"

    def get_queryset(self):
        return selectors.rate_list(kind=self.request.GET.get("kind", ""))

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        today = timezone.localdate()
        for rate in ctx["rates"]:
            rate.in_force = rate.effective_from <= today and (
                rate.next_from is None or rate.next_from > today
            )
        ctx["is_admin"] = _is_admin(self.request.user)
        if ctx["is_admin"]:
            ctx.setdefault("form", RateForm())
        ctx["kind"] = self.request.GET.get("kind", "")
        ctx["kinds"] = PolicyProfile.RateBasis.choices
        ctx["reference_warnings"] = selectors.lpr_warnings(today)
        return ctx

    def post(self, request, *args, **kwargs):
        if not _is_admin(request.user):
            raise PermissionDenied
        form = RateForm(request.POST)
        if form.is_valid():
            try:
                rate = services.rate_create(acting_user=request.user, **form.cleaned_data)
            except (ValidationError, ApplicationError) as error:
                form_errors_from(form, error)
            else:
                messages.success(request, _("Rate recorded: %(rate)s.") % {"rate": rate})
                return redirect("policies:rate_list")
        self.object_list = self.get_queryset()
        return self.render_to_response(self.get_context_data(form=form))


# ---- working-day calendar ------------------------------------------------------------------------


def _first_missing_year(today: datetime.date, stored: set[int] | None = None) -> int:
    """The first year from this one on that the calendar lacks: the one an admin enters next."""
    if stored is None:
        stored = selectors.stored_years(since=today.year)
    return next(y for y in range(today.year, today.year + 100) if y not in stored)


def _import_limits() -> dict:
    return {
        "mb": calendar_files.MAX_FILE_SIZE // (1024 * 1024),
        "rows": calendar_files.MAX_ROWS,
        "columns": calendar_files.COLUMNS,
    }


class CalendarView(AdminRequiredMixin, TemplateView):
    """Which years the calendar covers, which are missing, a form to add a year from the State
    Council's notice and a tool to count working days."""

    template_name = "policies/calendar.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        today = timezone.localdate()
        years = list(selectors.calendar_years())
        stored = {y.year for y in years}
        ctx.update(
            years=years,
            today=today,
            reference_warnings=selectors.calendar_warnings(today),
            gaps=[y for y in range(min(stored), max(stored)) if y not in stored] if stored else [],
            library_first=seeding.LIBRARY_FIRST_YEAR,
            library_last=seeding.LIBRARY_LAST_YEAR,
        )
        first_missing = _first_missing_year(today, stored)
        ctx.setdefault("define_form", CalendarYearForm(initial={"year": first_missing}))
        ctx.setdefault("library_form", LibraryYearForm())
        ctx.setdefault("import_form", CalendarImportForm(initial={"year": first_missing}))
        ctx["import_limits"] = _import_limits()
        ctx.update(self.working_days_tool())
        shown = self.request.GET.get("year", "")
        shown = int(shown) if shown.isdigit() and int(shown) in stored else None
        ctx["shown_year"] = shown
        ctx["special_days"] = list(selectors.calendar_special_days(year=shown)) if shown else []
        return ctx

    def working_days_tool(self) -> dict:
        if "start" not in self.request.GET:
            return {"tool_form": WorkingDaysForm()}
        form = WorkingDaysForm(self.request.GET)
        result = None
        if form.is_valid():
            try:
                result = selectors.add_working_days(form.cleaned_data["start"], form.cleaned_data["count"])
            except ApplicationError as error:
                form.add_error(None, str(error.message))
        return {"tool_form": form, "tool_result": result}

    def post(self, request, *args, **kwargs):
        if request.POST.get("action") == "library":
            form = LibraryYearForm(request.POST)
            if form.is_valid():
                try:
                    services.calendar_year_load_from_library(
                        form.cleaned_data["year"], acting_user=request.user
                    )
                except ApplicationError as error:
                    form_errors_from(form, error)
                else:
                    messages.success(
                        request,
                        _("%(year)s loaded from the holiday library.") % {"year": form.cleaned_data["year"]},
                    )
                    return redirect("policies:calendar")
            return self.render_to_response(self.get_context_data(library_form=form))

        form = CalendarYearForm(request.POST)
        if form.is_valid():
            year = form.cleaned_data["year"]
            if selectors.calendar_year_stored(year) and not form.cleaned_data["replace"]:
                form.add_error(
                    "replace",
                    _("%(year)s is already in the calendar; tick this box to replace it.") % {"year": year},
                )
            else:
                try:
                    services.calendar_year_define(
                        acting_user=request.user,
                        year=year,
                        holidays=form.cleaned_data["holidays"],
                        workdays=form.cleaned_data["workdays"],
                        source=form.cleaned_data["source"],
                    )
                except (ValidationError, ApplicationError) as error:
                    form_errors_from(form, error)
                else:
                    messages.success(request, _("The calendar of %(year)s is saved.") % {"year": year})
                    return redirect(f"{request.path}?year={year}")
        return self.render_to_response(self.get_context_data(define_form=form))


# ---- the calendar from a file --------------------------------------------------------------------

IMPORT_SUFFIX = {"csv": ".csv", "xlsx": ".xlsx"}
# The file of a preview without errors waits here until the administrator confirms it.
STAGING = uploads.Staging(session_key="policies_calendar_import", folder="imports", prefix="calendar-")


def _import_page(request, form, status=200):
    return render(
        request,
        "policies/calendar_import.html",
        {"form": form, "import_limits": _import_limits()},
        status=status,
    )


def _preview(request, result: calendar_files.CalendarImportResult, *, token=None, rejected=False, status=200):
    return render(
        request,
        "policies/calendar_import_preview.html",
        {"result": result, "errors": result.errors, "token": token, "rejected": rejected},
        status=status,
    )


class CalendarImportView(AdminRequiredMixin, View):
    """Upload a year's file and see it checked: every row, every problem, the year as it would be
    stored. A file without errors waits (on the server, named by a token in the session) until
    the administrator confirms it."""

    def get(self, request):
        form = CalendarImportForm(initial={"year": _first_missing_year(timezone.localdate())})
        return _import_page(request, form)

    def post(self, request):
        form = CalendarImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return _import_page(request, form, status=400)
        upload = form.cleaned_data["file"]
        filename = PurePath(upload.name.replace("\\", "/")).name[:100] or "calendar"
        try:
            result = services.calendar_import_check(
                acting_user=request.user,
                file=upload,
                filename=filename,
                year=form.cleaned_data["year"],
                source=form.cleaned_data["source"],
                replace=form.cleaned_data["replace"],
            )
        except (ValidationError, ApplicationError) as error:
            form_errors_from(form, error)
            return _import_page(request, form, status=400)
        # A new upload replaces whatever was waiting for confirmation.
        STAGING.discard(request.session)
        token = None
        if result.ok:
            token = STAGING.stage(
                request.session,
                upload,
                suffix=IMPORT_SUFFIX[result.file_type],
                filename=filename,
                year=result.year,
                source=result.source,
                replace=result.replace,
            )
        return _preview(request, result, token=token)


class CalendarImportConfirmView(AdminRequiredMixin, View):
    def get(self, request):
        return redirect("policies:calendar_import")

    def post(self, request):
        pending = STAGING.pending(request.session, request.POST.get("token"))
        if pending is None:
            messages.error(
                request, _("There is no file waiting to be imported, or it has expired; upload it again.")
            )
            return redirect("policies:calendar_import")
        try:
            with STAGING.open(pending) as file:
                result = services.calendar_year_import(
                    acting_user=request.user,
                    file=file,
                    filename=pending["filename"],
                    year=pending["year"],
                    source=pending["source"],
                    replace=pending["replace"],
                )
        except FileNotFoundError:
            messages.error(
                request, _("There is no file waiting to be imported, or it has expired; upload it again.")
            )
            return redirect("policies:calendar_import")
        except calendar_files.CalendarImportRejected as e:
            # Something changed since the preview (another administrator stored the year meanwhile).
            return _preview(request, e.result, rejected=True, status=409)
        except ApplicationError as error:
            messages.error(request, str(error.message))
            return redirect("policies:calendar_import")
        finally:
            # One attempt per upload: after it, the file is not kept.
            STAGING.discard(request.session)
        messages.success(
            request,
            _("The calendar of %(year)s is saved from %(filename)s.")
            % {"year": result.year, "filename": result.filename},
        )
        return redirect(f"{reverse('policies:calendar')}?year={result.year}#special-days")


class CalendarImportTemplateView(AdminRequiredMixin, View):
    """The CSV template: the header and two example rows for the year an admin enters next."""

    def get(self, request):
        year = _first_missing_year(timezone.localdate())
        response = HttpResponse(calendar_files.template_csv(year), content_type="text/csv; charset=utf-8")
        # RFC 6266 with a UTF-8 fallback, so the Chinese file name survives every browser.
        response["Content-Disposition"] = content_disposition_header(True, f"节假日安排导入模板-{year}.csv")
        return response
