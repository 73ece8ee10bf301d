from django import forms
from django.utils.translation import gettext_lazy as _

from core.templatetags.core_tags import money

from .models import Item
from .services.documents import DOCUMENT_ACCEPT


class DocumentUploadForm(forms.Form):
    item = forms.ChoiceField(label=_("Item"), choices=Item.choices)
    loan = forms.ModelChoiceField(
        label=_("Loan"),
        queryset=None,
        required=False,
        help_text=_("Leave empty for the household's own items (ID cards, register, rating form…)."),
    )
    file = forms.FileField(
        label=_("File"),
        widget=forms.ClearableFileInput(attrs={"accept": DOCUMENT_ACCEPT}),
        help_text=_("JPEG, PNG or PDF, at most 10 MB; location data (GPS) in photos is not kept."),
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args, loans, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["loan"].queryset = loans
        self.fields["loan"].label_from_instance = lambda loan: f"{loan.contract_no} · {money(loan.amount)}"
