from django.utils.translation import gettext_lazy as _

from core.exceptions import ConflictError


class TransitionNotAllowed(ConflictError):
    def __init__(self, application, name):
        super().__init__(
            _(
                "This step (%(step)s) cannot be taken while the application is “%(state)s”; "
                "it may have changed meanwhile."
            )
            % {"step": name, "state": application.get_state_display()},
            "transition_not_allowed",
            {"state": application.state, "transition": name},
        )
