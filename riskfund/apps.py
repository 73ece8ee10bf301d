from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RiskfundConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "riskfund"
    verbose_name = _("Risk-compensation fund")

    def ready(self):
        # The leverage cap (DOMAIN §4.6, §8; P1 art.38) is judged inside the disbursement's own
        # transaction. loans sits below this app and may not import it, so the fund registers its
        # check with the disbursement instead (loans/disbursement_checks.py).
        from loans import disbursement_checks

        from .services.leverage import leverage_check

        disbursement_checks.register(leverage_check)
