"""Page forms for loan applications. They check the shape of what was typed; the rules (eligibility,
the workflow, four-eyes) are the services'."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.scoping import visible_villages
from core import uploads
from core.forms import DateInput
from households.forms import VillageChoiceField

from .choices import UseMode
from .models import LoanApplication, PublicityNotice
from .purposes import FORBIDDEN, PRODUCTIVE, Purpose
from .workflow import State


def _label(name: str):
    """The model field's verbose name, so the form and the detail page use the same words."""
    return LoanApplication._meta.get_field(name).verbose_name


class BorrowerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        # The age decides the age rule: the cadre sees it before choosing (issue 14).
        return _("%(name)s (%(relation)s, aged %(age)d)") % {
            "name": obj.name,
            "relation": obj.get_relation_display(),
            "age": obj.age_on(timezone.localdate()),
        }


class ApplicationForm(forms.Form):
    """The application form (贫困户专项贷款业务申请表, P1 art.11). The purpose list holds the forbidden
    purposes too, in their own group, so a cadre who picks one is told the rule and its source."""

    borrower = BorrowerChoiceField(queryset=None, label=_label("borrower"), empty_label=_("Choose a member"))
    amount = forms.DecimalField(
        label=_label("amount"),
        max_digits=12,
        decimal_places=2,
        min_value=Decimal("0.01"),
        widget=forms.NumberInput(attrs={"step": "100", "min": "0"}),
    )
    term_months = forms.IntegerField(
        label=_label("term_months"), min_value=1, max_value=600, widget=forms.NumberInput(attrs={"min": "1"})
    )
    purpose_category = forms.ChoiceField(label=_label("purpose_category"))
    purpose_detail = forms.CharField(
        label=_label("purpose_detail"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What the money buys and how it earns, e.g. 5 beef cattle, 40 mu of oranges."),
    )
    use_mode = forms.ChoiceField(label=_label("use_mode"), choices=UseMode.choices, initial=UseMode.SELF)
    entity_name = forms.CharField(label=_label("entity_name"), required=False, max_length=200)
    entity_attested = forms.BooleanField(label=_label("entity_attested"), required=False)
    bank_account_no = forms.CharField(
        label=_label("bank_account_no"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    capacity_attested = forms.BooleanField(label=_label("capacity_attested"), required=False)
    consent_publicity = forms.BooleanField(
        label=_label("consent_publicity"),
        required=False,
        help_text=_(
            "Signed separately by the borrower: name, village, amount and purpose are posted (PIPL art.25)."
        ),
    )
    consent_credit_query = forms.BooleanField(label=_label("consent_credit_query"), required=False)

    def __init__(self, *args, household, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["borrower"].queryset = household.members.order_by("-is_head", "id")
        productive = [(p.value, p.label) for p in Purpose if p in PRODUCTIVE]
        forbidden = [(p.value, p.label) for p in Purpose if p in FORBIDDEN]
        self.fields["purpose_category"].choices = [
            ("", _("Choose a purpose")),
            (_("Productive purposes"), productive),
            (_("Forbidden purposes"), forbidden),
        ]

    def service_fields(self) -> dict:
        """The cleaned values as the services take them."""
        return dict(self.cleaned_data)


class CommentForm(forms.Form):
    """The comment of a simple step; steps that refuse or send back require it (the reason)."""

    comment = forms.CharField(label=_("comment"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, reason_required=False, **kwargs):
        super().__init__(*args, **kwargs)
        if reason_required:
            self.fields["comment"].label = _("reason")
            self.fields["comment"].required = True


class ObjectionForm(forms.Form):
    objector = forms.CharField(
        label=_("objector"),
        required=False,
        max_length=100,
        help_text=_("Who raised it (name, or “anonymous”)."),
    )
    text = forms.CharField(label=_("objection"), widget=forms.Textarea(attrs={"rows": 5}))


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several photos in one input. Each is checked by core/uploads.py: at most 10 MB, and JPEG or
    PNG by its content (not its name); at most PHOTO_MAX_COUNT at once. The service stores a
    re-encoding without the metadata."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleImageInput(attrs={"accept": uploads.PHOTO_ACCEPT}))
        super().__init__(*args, **kwargs)

    def to_python(self, data):
        file = super().to_python(data)
        if file is None:
            return None
        try:
            uploads.check_photo(file)
        except uploads.PhotoRefused as e:
            raise forms.ValidationError(e.message, code=e.code) from None
        return file

    def clean(self, data, initial=None):
        single = super().clean
        items = [item for item in data if item] if isinstance(data, list | tuple) else [data] if data else []
        try:
            uploads.check_photo_count(items)
        except uploads.PhotoRefused as e:
            raise forms.ValidationError(e.message, code=e.code) from None
        return [single(item, initial) for item in items]


class AcceptanceForm(forms.Form):
    """Bank acceptance with the pre-loan investigation (受理, 贷前调查)."""

    investigated_on = forms.DateField(label=_("investigated on"), widget=DateInput())
    findings = forms.CharField(
        label=_("investigation findings"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What you saw on the visit: the project, the family's labour, assets and debts."),
    )
    photos = MultipleImageField(
        label=_("photos"),
        required=False,
        help_text=uploads.PHOTOS_HELP,
    )
    caption = forms.CharField(label=_("caption"), required=False, max_length=200)
    comment = forms.CharField(label=_("comment"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"investigated_on": timezone.localdate()})
        super().__init__(*args, **kwargs)

    def clean_investigated_on(self):
        value = self.cleaned_data["investigated_on"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("The investigation date cannot be in the future."))
        return value


class ApprovalForm(forms.Form):
    """Review and approval (审查审批): the approved amount may be lower than requested."""

    amount = forms.DecimalField(label=_("approved amount (yuan)"), max_digits=12, decimal_places=2)
    term_months = forms.IntegerField(label=_("approved term (months)"), min_value=1, max_value=600)
    comment = forms.CharField(label=_("comment"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, application: LoanApplication, **kwargs):
        kwargs.setdefault("initial", {"amount": application.amount, "term_months": application.term_months})
        super().__init__(*args, **kwargs)
        self.fields["amount"].widget.attrs.update({"max": str(application.amount), "step": "100", "min": "0"})
        self.fields["amount"].help_text = _("At most the %(amount)s yuan requested.") % {
            "amount": f"{application.amount:,.2f}"
        }


class DisbursementForm(forms.Form):
    contract_no = forms.CharField(label=_("contract number"), max_length=64)
    receipt_no = forms.CharField(label=_("receipt number"), max_length=64)
    account_no = forms.CharField(
        label=_("borrower's account number"),
        max_length=40,
        required=False,
        help_text=_(
            "The borrower's account at the lending bank, as given on the application: the bank debits "
            "the interest and the county pays the interest subsidy there. Correct it if it has changed."
        ),
    )
    disbursed_on = forms.DateField(label=_("disbursed on"), widget=DateInput())
    comment = forms.CharField(label=_("comment"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, application: LoanApplication, **kwargs):
        # The service refuses an empty account (account_missing), with the rule and its source.
        kwargs.setdefault(
            "initial", {"disbursed_on": timezone.localdate(), "account_no": application.bank_account_no}
        )
        super().__init__(*args, **kwargs)


class ApplicationFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("Name or registration number")}),
    )
    state = forms.ChoiceField(label=_("state"), required=False, choices=[("", _("All")), *State.choices])


class PublicityFilterForm(forms.Form):
    village = VillageChoiceField(
        queryset=None, label=_("village"), required=False, empty_label=_("All villages")
    )
    level = forms.ChoiceField(
        label=_("level"), required=False, choices=[("", _("All levels")), *PublicityNotice.Level.choices]
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["village"].queryset = visible_villages(user).order_by("code")
