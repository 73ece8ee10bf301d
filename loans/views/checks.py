"""Pages for post-loan checks: the list of checks due soon and overdue (for officers and the
cadres who help them), the check form with the classification floor, and the check's photos.
The rules are in checks.py; these views handle the form and the answer."""

from __future__ import annotations

import mimetypes

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core import uploads
from core.exceptions import ApplicationError
from core.forms import DateInput
from core.pages import run_form_step

from .. import selectors
from ..choices import Classification
from ..forms import MultipleImageField
from ..services import checks

PAGE_SIZE = 50
# A date input takes ISO dates only; the zh-hans input format (2026/06/17) would leave it empty.
# A date input shows its value only in ISO form (core.forms.DateInput).
DATE_INPUT = DateInput()


class CheckForm(forms.Form):
    done_on = forms.DateField(label=gettext_lazy("done on"), widget=DATE_INPUT)
    funds_as_agreed = forms.TypedChoiceField(
        label=gettext_lazy("funds used as agreed"),
        choices=[("yes", gettext_lazy("Yes")), ("no", gettext_lazy("No"))],
        coerce=lambda v: v == "yes",
        widget=forms.RadioSelect,
    )
    findings = forms.CharField(
        label=gettext_lazy("findings"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=gettext_lazy(
            "What the visit found: the project, the use of the money, the family's situation."
        ),
    )
    classification = forms.ChoiceField(label=gettext_lazy("classification"), choices=Classification.choices)
    classification_reason = forms.CharField(
        label=gettext_lazy("reason for the classification"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Required whenever the classification changes."),
    )
    photos = MultipleImageField(
        label=gettext_lazy("photos"),
        required=False,
        help_text=uploads.PHOTOS_HELP,
    )

    def __init__(self, *args, floor: checks.Floor | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if floor is not None:
            # Only the floor and worse are offered; the service refuses anything better anyway.
            self.fields["classification"].choices = floor.choices()
            self.fields["classification"].help_text = _(
                "At least %(floor)s, because %(why)s. You may classify worse, never better."
            ) % {"floor": floor.label, "why": floor.why}


@login_required
def checks_due(request):
    today = timezone.localdate()
    counts = selectors.checks_due_counts(user=request.user, on_date=today)
    # The tab asked for (`status`, or `tab` as the home page's links may say) wins; otherwise the
    # page opens on what needs action first: the overdue checks when there are any.
    status = request.GET.get("status") or request.GET.get("tab") or ""
    if status not in selectors.Status.CHOICES:
        status = selectors.Status.OVERDUE if counts["overdue"] else selectors.Status.DUE
    qs = selectors.checks_due(user=request.user, on_date=today, status=status)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "loans/check_due_list.html",
        {
            "page_obj": page,
            "checks": page.object_list,
            "status": status,
            "counts": counts,
            "today": today,
            "can_record": checks.can_record_checks(request.user),
        },
    )


@login_required
def check_record(request, pk):
    check = selectors.check_get(user=request.user, pk=pk)
    if not checks.can_record_checks(request.user):
        raise PermissionDenied
    loan = check.loan
    if check.done_on is not None:
        messages.info(request, _("This check has already been recorded."))
        return redirect("loans:book_detail", loan.pk)
    today = timezone.localdate()
    floor, floor_error = None, None
    try:
        floor = checks.classification_floor_for(loan=loan, on_date=today)
    except ApplicationError as e:
        floor_error = e.message
    initial = {"done_on": today, "classification": loan.classification}
    if floor is not None and not floor.allows(loan.classification):
        initial["classification"] = floor.classification
    form = CheckForm(request.POST or None, request.FILES or None, floor=floor, initial=initial)
    status = 200
    if request.method == "POST":
        outcome = run_form_step(
            form, lambda data: checks.check_record(acting_user=request.user, check=check, **data)
        )
        status = outcome.status
        if outcome.ok:
            messages.success(request, _("The post-loan check was recorded and the next one scheduled."))
            return redirect("loans:book_detail", loan.pk)
    return render(
        request,
        "loans/check_form.html",
        {
            "check": check,
            "loan": loan,
            "form": form,
            "floor": floor,
            "floor_error": floor_error,
            "back": reverse("loans:checks_due"),
        },
        status=status,
    )


@login_required
def check_photo(request, pk, photo_pk):
    """A photo of a check, to those who may see the loan. Served by the loan's scope, not as
    public media: it shows a family's home and project."""
    photo = selectors.check_photo_get(user=request.user, pk=pk, photo_pk=photo_pk)
    try:
        handle = photo.image.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404 from None
    content_type = mimetypes.guess_type(photo.image.name)[0] or "application/octet-stream"
    return FileResponse(handle, content_type=content_type)
