from django.utils.translation import gettext_lazy as _

from core.exceptions import ApplicationError


class DuplicateIdNumber(ApplicationError):
    def __init__(self, masked: str, *, field=None):
        super().__init__(
            _("ID number %(masked)s is already registered in the system; one person can be in one household only.")
            % {"masked": masked},
            "duplicate_id_number",
            {"id_number": masked},
            field=field,
        )
