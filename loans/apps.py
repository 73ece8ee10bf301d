from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LoansConfig(AppConfig):
    name = "loans"
    verbose_name = _("Loan applications and loans")

    def ready(self):
        # The households list's "could apply now" filter needs "no open loan, no application on
        # its way", which is loans' to say; households may not import loans (apps depend one
        # way), so loans registers the condition there (households/apply_conditions.py).
        from households import apply_conditions

        from .household_outlook import household_could_borrow, household_free_to_apply

        apply_conditions.register(household_free_to_apply)
        apply_conditions.register(household_could_borrow)
