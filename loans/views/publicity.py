"""Pages for publicity: the board of applications under notice with the working days left,
the printable A4 notice, and the objection form."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import OrgUnit
from core.pages import NOT_POSTED, run_form_step

from .. import selectors, waiting
from ..forms import (
    ObjectionForm,
    PublicityFilterForm,
)
from ..models import PublicityNotice
from ..services import applications
from .application_parts import page_of, place_rule_error, step_gate, summary_context, to_int

LEVEL_TITLES = {
    PublicityNotice.Level.VILLAGE: gettext_lazy("Village-level notice"),
    PublicityNotice.Level.TOWNSHIP: gettext_lazy("Township-level notice"),
    PublicityNotice.Level.COUNTY: gettext_lazy("County-level notice"),
}


@login_required
def publicity_board(request):
    user = request.user
    filters = PublicityFilterForm(request.GET or None, user=user)
    criteria = filters.cleaned_data if filters.is_bound and filters.is_valid() else {}
    village = criteria.get("village")
    level = criteria.get("level", "")
    today = timezone.localdate()
    rows = selectors.under_notice(user=user, village=village, level=level)
    if request.GET.get("ending") == waiting.ENDING_THIS_WEEK:
        # The home page's to-do link: publicity ending this week.
        rows = waiting.ending_by(rows, waiting.week_end(today))
    page = page_of(request, rows)
    apps = list(page.object_list)
    left = selectors.working_days_left([n for app in apps for n in app.running], today)
    rows = [
        {
            "app": app,
            "notices": [{"notice": n, "left": left.get(n.pk)} for n in app.running],
            "can_object": "object" in selectors.available_transitions(application=app, user=user),
        }
        for app in apps
    ]
    print_query = {"level": level or PublicityNotice.Level.VILLAGE}
    if village is not None:
        print_query["village"] = village.pk
    elif user.unit_id and user.unit.kind == OrgUnit.Kind.VILLAGE:
        print_query["village"] = user.unit_id
    return render(
        request,
        "loans/publicity_board.html",
        {
            "filters": filters,
            "todo_filter": waiting.todo_filter(request),
            "page_obj": page,
            "rows": rows,
            "today": today,
            "print_query": print_query,
            "calendar_missing": any(v is None for v in left.values()),
        },
    )


def _issuer(unit, level: str) -> str:
    """Who posts the notice: the villagers' committee, the township's or the county's office."""
    if unit is None:
        return ""
    if unit.kind == OrgUnit.Kind.VILLAGE and level == PublicityNotice.Level.VILLAGE:
        return _("%(village)s Villagers' Committee") % {"village": unit.name}
    if unit.kind == OrgUnit.Kind.VILLAGE:
        unit = unit.parent if level == PublicityNotice.Level.TOWNSHIP else unit.parent.parent
    elif unit.kind == OrgUnit.Kind.TOWNSHIP and level == PublicityNotice.Level.COUNTY:
        unit = unit.parent
    if unit.kind == OrgUnit.Kind.TOWNSHIP:
        return _("%(township)s People's Government") % {"township": unit.name}
    if unit.kind == OrgUnit.Kind.COUNTY:
        return _("%(county)s Poverty Alleviation and Development Office") % {"county": unit.name}
    return unit.name


@login_required
def publicity_notice_print(request):
    """The notice for the village board, on A4: masked ID numbers only (PIPL art.28)."""
    user = request.user
    level = request.GET.get("level") or PublicityNotice.Level.VILLAGE
    if level not in PublicityNotice.Level.values:
        raise Http404
    village = None
    if request.GET.get("village"):
        village = selectors.visible_village(user=user, pk=to_int(request.GET["village"]) or 0)
    notices = list(selectors.running_notices(user=user, village=village, level=level))
    unit = village or user.unit
    days = sorted({n.working_days for n in notices})
    return render(
        request,
        "loans/notice_print.html",
        {
            "notices": notices,
            "village": village,
            "level_title": LEVEL_TITLES[level],
            "issuer": _issuer(unit, level),
            "working_days": days[0] if len(days) == 1 else None,
            "today": timezone.localdate(),
            "contact": user,
            "back_url": reverse("loans:publicity_board"),
        },
    )


@login_required
def objection_create(request, pk):
    app = selectors.application_detail(user=request.user, pk=pk)
    gate = step_gate(request, app, "object")
    if gate is not None:
        return gate
    form = ObjectionForm(request.POST or None)
    outcome = NOT_POSTED
    if request.method == "POST":
        outcome = run_form_step(
            form,
            lambda data: applications.objection_lodge(
                acting_user=request.user, application=app, text=data["text"], objector=data["objector"]
            ),
            place=place_rule_error,
            default_field="text",
        )
        if outcome.ok:
            messages.success(
                request,
                _(
                    "The objection was recorded. Publicity is suspended and the application is back "
                    "at village review."
                ),
            )
            return redirect("loans:application_detail", pk=app.pk)
    return render(
        request,
        "loans/objection_form.html",
        {**summary_context(request, app), "form": form},
        status=outcome.status,
    )
