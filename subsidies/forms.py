import calendar
import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.scoping import visible_regions
from core.forms import DateInput

from .models import ExcludedReason, SubsidyBatch
from .services import previous_quarter, quarter_of
from .workflow import State


def _year_choices():
    this_year = timezone.localdate().year
    return [(y, str(y)) for y in range(this_year, this_year - 6, -1)]


QUARTERS = [
    (1, gettext_lazy("Q1 (January–March)")),
    (2, gettext_lazy("Q2 (April–June)")),
    (3, gettext_lazy("Q3 (July–September)")),
    (4, gettext_lazy("Q4 (October–December)")),
]


def default_quarter(taken, today) -> tuple[int, int]:
    """The quarter a new batch is most likely for (issue 14): the one after the county's latest
    batch (batches go in order), else the latest quarter that has ended. `taken` holds the
    (year, quarter) of the county's live batches."""
    if not taken:
        return previous_quarter(*quarter_of(today))
    year, quarter = max(taken)
    return (year, quarter + 1) if quarter < 4 else (year + 1, 1)


class BatchCreateForm(forms.Form):
    year = forms.TypedChoiceField(label=gettext_lazy("year"), coerce=int)
    quarter = forms.TypedChoiceField(label=gettext_lazy("quarter"), coerce=int, choices=QUARTERS)

    def __init__(self, *args, county=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = _year_choices()
        if county is not None and not self.is_bound:
            taken = set(
                SubsidyBatch.objects.filter(county=county)
                .exclude(state=State.CANCELLED)
                .values_list("year", "quarter")
            )
            today = timezone.localdate()
            year, quarter = default_quarter(taken, today)
            if year in dict(self.fields["year"].choices):
                self.initial.setdefault("year", year)
                self.initial.setdefault("quarter", quarter)
            if (year, quarter) >= quarter_of(today):
                # The next batch's quarter is still running: say when it can be made, rather than
                # let the form answer with an error (issue 14).
                end = quarter_end(year, quarter)
                self.fields["quarter"].help_text = _(
                    "The next batch is for %(year)d Q%(quarter)d, which ends on %(end)s: it can be "
                    "created after that day (the system creates it by itself on the first working day after)."
                ) % {"year": year, "quarter": quarter, "end": end.isoformat()}


def quarter_end(year: int, quarter: int) -> datetime.date:
    """The last day of a quarter."""
    month = quarter * 3
    return datetime.date(year, month, calendar.monthrange(year, month)[1])


class BatchFilterForm(forms.Form):
    year = forms.TypedChoiceField(label=gettext_lazy("year"), coerce=int, required=False, empty_value=None)
    state = forms.ChoiceField(label=gettext_lazy("state"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [("", _("All"))] + _year_choices()
        self.fields["state"].choices = [("", _("All"))] + list(State.choices)


class StepForm(forms.Form):
    """The inputs of one batch step; the view keeps only the fields the step asks for."""

    comment = forms.CharField(
        label=gettext_lazy("comment"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    reason = forms.CharField(label=gettext_lazy("reason"), widget=forms.Textarea(attrs={"rows": 2}))
    paid_on = forms.DateField(label=gettext_lazy("paid on"), widget=DateInput())
    reference = forms.CharField(label=gettext_lazy("payment voucher number"), required=False, max_length=64)

    def __init__(self, *args, fields=(), step="", **kwargs):
        kwargs.setdefault("prefix", step)
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if name not in fields:
                del self.fields[name]
        if "paid_on" in self.fields:
            self.fields["paid_on"].initial = timezone.localdate()


class LineFilterForm(forms.Form):
    q = forms.CharField(
        label=gettext_lazy("Contract, registration number or borrower"),
        required=False,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    township = forms.ModelChoiceField(label=gettext_lazy("township"), required=False, queryset=None)
    village = forms.ModelChoiceField(label=gettext_lazy("village"), required=False, queryset=None)
    reason = forms.ChoiceField(label=gettext_lazy("Subsidy"), required=False)

    def __init__(self, *args, user, county, **kwargs):
        super().__init__(*args, **kwargs)
        regions = visible_regions(user)
        self.fields["township"].queryset = regions.filter(kind="township", parent=county).order_by("code")
        self.fields["township"].empty_label = _("All")
        self.fields["village"].queryset = regions.filter(kind="village", parent__parent=county).order_by(
            "parent__code", "code"
        )
        self.fields["village"].empty_label = _("All")
        self.fields["reason"].choices = [
            ("", _("All")),
            ("subsidized", _("With a subsidy")),
            ("excluded", _("Without a subsidy (any reason)")),
            *ExcludedReason.choices,
        ]
