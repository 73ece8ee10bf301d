"""The forms of the fund's pages. Each form checks the shape of the input; the services judge the
rules (their refusals go on the form through core.pages.place_error)."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from households.forms import DateInput

from .models import CompensationClaim
from .workflow import State

# ---------------------------------------------------------------------------------------------
# Loss claims


class ClaimFilterForm(forms.Form):
    state = forms.ChoiceField(label=gettext_lazy("state"), required=False)
    trigger = forms.ChoiceField(label=gettext_lazy("trigger"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", _("All")), *State.choices]
        self.fields["trigger"].choices = [("", _("All")), *CompensationClaim.Trigger.choices]


class ClaimFileForm(forms.Form):
    trigger = forms.ChoiceField(label=gettext_lazy("trigger"))
    statement = forms.CharField(
        label=gettext_lazy("How the bank pursued the debt"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy("Collection notices, visits, lawsuits and what came of them."),
    )

    def __init__(self, *args, triggers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["trigger"].choices = [(t, CompensationClaim.Trigger(t).label) for t in triggers]
        if len(triggers) == 1:
            self.fields["trigger"].initial = triggers[0]


class ClaimStepForm(forms.Form):
    """The inputs of one claim step; the view keeps only the fields the step asks for
    (riskfund/steps.py)."""

    committee_members = forms.CharField(
        label=gettext_lazy("committee members who decided"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=gettext_lazy("As the meeting's minutes name them."),
    )
    decision_no = forms.CharField(label=gettext_lazy("decision number"), required=False, max_length=64)
    reason = forms.CharField(label=gettext_lazy("reason"), widget=forms.Textarea(attrs={"rows": 2}))
    paid_on = forms.DateField(label=gettext_lazy("paid on"), widget=DateInput())
    comment = forms.CharField(
        label=gettext_lazy("comment"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, fields=(), step="", **kwargs):
        kwargs.setdefault("prefix", step)
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if name not in fields:
                del self.fields[name]
        if step == "reject" and "committee_members" in self.fields:
            # The committee names its members when it rejects; the county office at review does not.
            self.fields["committee_members"].required = False
        if "paid_on" in self.fields:
            self.fields["paid_on"].initial = timezone.localdate()
