"""Page forms. They check the shape of what was typed; the rules are the services'."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.scoping import visible_villages
from core.forms import DateInput

from . import idnumbers
from .models import CreditRating, Household, Member
from .services.households import HOUSEHOLD_FIELDS
from .services.ratings import DIMENSIONS, dimension_label


class VillageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.parent.name} · {obj.name}" if obj.parent_id else obj.name


class IdNumberFormField(forms.CharField):
    """Checked with the same GB 11643 rules as everywhere else; answers the normalised number."""

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return ""
        try:
            return idnumbers.parse(value).number
        except ValidationError as e:
            raise forms.ValidationError(e.messages) from None


class HouseholdForm(forms.ModelForm):
    village = VillageChoiceField(queryset=None, label=_("village"), empty_label=_("Choose a village"))

    class Meta:
        model = Household
        fields = list(HOUSEHOLD_FIELDS)
        widgets = {"exited_on": DateInput()}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["village"].queryset = visible_villages(user).order_by("code")
        self.fields["registration_no"].help_text = _("The 建档立卡 number of the household.")
        self.fields["exited_on"].help_text = _("Only for 已脱贫 households, e.g. 2020-12-31.")


class MemberForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # With a context: other apps translate a bare "name" as the name of a thing (名称).
    name = forms.CharField(label=pgettext_lazy("person", "name"), max_length=50)
    id_number = IdNumberFormField(
        label=_("ID number"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={"required": _("Enter the ID number.")},
    )
    relation = forms.ChoiceField(
        label=_("relation to head"), choices=[("", _("Choose")), *Member.Relation.choices]
    )
    is_head = forms.BooleanField(label=_("head of household"), required=False)
    phone = forms.CharField(label=_("phone"), max_length=20, required=False)
    labour_capacity = forms.ChoiceField(
        label=_("labour capacity"), choices=Member.Labour.choices, initial=Member.Labour.FULL
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        id_number = self.fields["id_number"]
        if not self.initial.get("id"):
            # A new member has no stored number to keep: the number is required (and marked so).
            id_number.required = True
            return
        masked = self.initial.get("masked")
        if self.initial.get("locked"):
            # A browser sends nothing for a disabled field and Django ignores what is sent anyway;
            # the service refuses the change too (code identity_locked).
            for name in ("name", "id_number"):
                self.fields[name].disabled = True
            id_number.widget.attrs["placeholder"] = masked or ""
            id_number.help_text = _(
                "Borrower of a submitted application or a loan: the name and ID number are locked. "
                "An administrator corrects them with a reason (“Correct name or ID number” on the "
                "household page)."
            )
            return
        if masked and not self.initial.get("id_number"):
            # The user may not see the full number: the field is empty and the masked one is
            # shown. When the full number is pre-filled, there is nothing to explain.
            id_number.widget.attrs["placeholder"] = masked
            id_number.help_text = _("Leave empty to keep the stored number (%(masked)s).") % {
                "masked": masked
            }

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("id") and not cleaned.get("id_number") and "id_number" not in self.errors:
            self.add_error("id_number", _("Enter the ID number."))
        return cleaned

    def member_data(self) -> dict:
        """The member as the services take it; no `id_number` means "keep the stored one"."""
        data = {
            k: self.cleaned_data.get(k) for k in ("name", "relation", "is_head", "phone", "labour_capacity")
        }
        if self.cleaned_data.get("id"):
            data["id"] = self.cleaned_data["id"]
        if self.cleaned_data.get("id_number"):
            data["id_number"] = self.cleaned_data["id_number"]
        return data


class BaseMemberFormSet(forms.BaseFormSet):
    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = _("Remove from the household")

    def clean(self):
        """A household needs at least its head: refuse a form whose member rows are all blank
        or marked for removal, with the error shown at the members section."""
        kept = [
            form
            for i, form in enumerate(self.forms)
            if (i < self.initial_form_count() or form.has_changed()) and not self._should_delete_form(form)
        ]
        if not kept:
            raise forms.ValidationError(
                _("Enter at least one member, the head of household."), code="no_members"
            )


MemberFormSet = forms.formset_factory(
    MemberForm, formset=BaseMemberFormSet, extra=2, can_delete=True, can_delete_extra=False
)


class RatingForm(forms.Form):
    """The five dimensions with the maxima of the profile in force. The inputs carry min/max
    for the browser; the service checks the ranges and computes the result."""

    valid_from = forms.DateField(label=_("valid from"), required=False, widget=DateInput())
    comment = forms.CharField(label=_("comment"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, profile, **kwargs):
        super().__init__(*args, **kwargs)
        dims = {}
        for field, max_field in DIMENSIONS:
            maximum = getattr(profile, max_field)
            dims[field] = forms.IntegerField(
                label=_("%(dimension)s (0-%(max)d points)")
                % {"dimension": dimension_label(field), "max": maximum},
                widget=forms.NumberInput(
                    attrs={"min": 0, "max": maximum, "step": 1, "data-dimension": field}
                ),
            )
        # Dimensions first, in the scheme's order.
        self.fields = {**dims, **self.fields}
        self.fields["valid_from"].help_text = _("Empty means today.")


class IdentityCorrectionForm(forms.Form):
    """An administrator's correction of a member's name or ID number (DOMAIN §2)."""

    name = forms.CharField(label=pgettext_lazy("person", "name"), max_length=50, required=False)
    id_number = IdNumberFormField(
        label=_("correct ID number"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    reason = forms.CharField(
        label=_("reason for the correction"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("E.g. the name was mistyped at registration; checked against the ID card."),
    )

    def __init__(self, *args, member, **kwargs):
        kwargs.setdefault("initial", {"name": member.name})
        super().__init__(*args, **kwargs)
        self.fields["id_number"].widget.attrs["placeholder"] = member.id_number_masked
        self.fields["id_number"].help_text = _("Leave empty to keep the stored number (%(masked)s).") % {
            "masked": member.id_number_masked
        }


class FullIdExportForm(forms.Form):
    """The stated purpose of an export with full ID numbers (PIPL art.28); the list's filter
    travels along in hidden fields so the file holds what the list showed."""

    purpose = forms.CharField(
        label=_("purpose of the export"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "Why whole ID numbers are needed, e.g. the bank's credit report query for the 2026 "
            "rating. Recorded in the audit log and printed on the file."
        ),
    )
    q = forms.CharField(required=False, widget=forms.HiddenInput)
    village = forms.CharField(required=False, widget=forms.HiddenInput)
    status = forms.CharField(required=False, widget=forms.HiddenInput)
    grade = forms.CharField(required=False, widget=forms.HiddenInput)
    can_apply = forms.CharField(required=False, widget=forms.HiddenInput)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 4}))


class HouseholdFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("Name, ID number or registration number")}),
    )
    village = VillageChoiceField(
        queryset=None, label=_("village"), required=False, empty_label=_("All villages")
    )
    status = forms.ChoiceField(
        label=_("poverty status"),
        required=False,
        choices=[("", _("All")), *Household.PovertyStatus.choices],
    )
    # The grade of the rating in force today; "unrated" when none is (households.selectors.UNRATED).
    grade = forms.ChoiceField(
        label=_("Rating"),
        required=False,
        choices=[("", _("All")), *CreditRating.Grade.choices, ("unrated", _("not rated"))],
    )
    can_apply = forms.BooleanField(
        label=_("Could apply now"),
        required=False,
        help_text=_(
            "Registered poor, a valid rating, not blacklisted, no open loan or application in progress, "
            "and a member of the borrowing age who can work."
        ),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["village"].queryset = visible_villages(user).order_by("code")
