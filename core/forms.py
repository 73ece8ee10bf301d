from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from . import selectors
from .audit import ACTION_LABELS, action_label, object_type_label


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class ActorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.username})" if obj.name else obj.username


class AuditFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Reason, user, address or object id")}),
    )
    actor = ActorChoiceField(queryset=None, label=_("User"), required=False, empty_label=_("All users"))
    action = forms.ChoiceField(label=_("Action"), required=False)
    object_type = forms.ChoiceField(label=_("Object type"), required=False)
    object_id = forms.CharField(label=_("Object id"), required=False, max_length=64)
    date_from = forms.DateField(label=pgettext_lazy("date range", "From"), required=False, widget=DateInput())
    date_to = forms.DateField(label=pgettext_lazy("date range", "To"), required=False, widget=DateInput())

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["actor"].queryset = selectors.audit_actor_choices(user=user)
        codes = set(selectors.audit_actions()) | set(ACTION_LABELS)
        actions = sorted(((code, action_label(code)) for code in codes), key=lambda choice: choice[0])
        self.fields["action"].choices = [("", _("All actions")), *actions]
        types = sorted(
            (t, object_type_label(t))
            for t, model in selectors.audited_object_types().items()
            if model is not None
        )
        self.fields["object_type"].choices = [("", _("All objects")), *types]

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return data
