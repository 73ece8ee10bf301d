"""The audit viewer: administrators read (and export) the audit trail of their area."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Role

from . import selectors
from .audit import EXPORT_MAX_ROWS, action_label, audit_log_csv, changes, object_type_label
from .forms import AuditFilterForm

PAGE_SIZE = 50
# The page's title, also its entry in the administrators' menu (accounts.context_processors).
AUDIT_LOG_TITLE = gettext_lazy("Audit log")

# Objects with a page of their own, linked from the event.
OBJECT_PAGES = {
    "households.household": "households:detail",
    "loans.loanapplication": "loans:application_detail",
    "loans.loan": "loans:book_detail",
    "subsidies.subsidybatch": "subsidies:batch_detail",
    "policies.policyprofile": "policies:profile_detail",
}


def _require_admin(user) -> None:
    if not user.has_role(Role.ADMIN):
        raise PermissionDenied(_("Only administrators read the audit log."))


def _filtered(request):
    filters = AuditFilterForm(request.GET or None, user=request.user)
    criteria = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    if filters.is_bound and not filters.is_valid():
        # A malformed filter (a date like 2026-13-01) shows its error and lists nothing, rather
        # than quietly list everything.
        return filters, criteria, None
    qs = selectors.audit_event_list(
        user=request.user,
        q=criteria.get("q", ""),
        actor=criteria.get("actor"),
        object_type=criteria.get("object_type", ""),
        object_id=criteria.get("object_id", ""),
        action=criteria.get("action", ""),
        date_from=criteria.get("date_from"),
        date_to=criteria.get("date_to"),
    )
    return filters, criteria, qs


def _object_url(event) -> str | None:
    name = OBJECT_PAGES.get(event.object_type)
    if name is None or not event.object_id.isdigit():
        return None
    try:
        return reverse(name, args=[int(event.object_id)])
    except NoReverseMatch:
        return None


@login_required
def audit_log(request):
    _require_admin(request.user)
    filters, _criteria, qs = _filtered(request)
    page = Paginator(
        qs if qs is not None else selectors.audit_event_list(user=request.user).none(), PAGE_SIZE
    )
    page = page.get_page(request.GET.get("page"))
    rows = [
        {
            "event": event,
            "action": action_label(event.action),
            "object": object_type_label(event.object_type),
            "url": _object_url(event),
            "changes": changes(event),
        }
        for event in page.object_list
    ]
    return render(
        request,
        "core/audit_list.html",
        {
            "filters": filters,
            "page_obj": page,
            "rows": rows,
            "filtered": bool(request.GET.dict().keys() - {"page"}),
            "export_max_rows": EXPORT_MAX_ROWS,
        },
    )


@login_required
def audit_log_export(request):
    _require_admin(request.user)
    filters, criteria, qs = _filtered(request)
    back = f"{reverse('core:audit_log')}?{request.GET.urlencode()}"
    if qs is None:
        messages.error(request, _("Correct the filters first."))
        return redirect(back)
    count = qs.count()
    if count > EXPORT_MAX_ROWS:
        messages.error(
            request,
            _(
                "%(count)d events match; an export holds at most %(max)d. Narrow the filters "
                "(a shorter date range, one user or one action) and export again."
            )
            % {"count": count, "max": EXPORT_MAX_ROWS},
        )
        return redirect(back)
    text = audit_log_csv(acting_user=request.user, events=qs.iterator(chunk_size=2000), filters=criteria)
    response = HttpResponse("\ufeff" + text, content_type="text/csv; charset=utf-8")
    name = _("audit-log-%(at)s.csv") % {"at": timezone.localtime().strftime("%Y%m%d-%H%M")}
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response
