"""The choices and the money field size the loan models share. models.py and models_postloan.py
both use them, so they live here rather than in either."""

from django.db import models
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 12, "decimal_places": 2}


class UseMode(models.TextChoices):
    SELF = "self", _("Household borrows, uses and repays (户借户用户还)")
    ENTRUSTED = "entrusted", _("Entrusted to an enterprise (户贷企用)")
    INDIRECT = "indirect", _("Indirect, through an implementing entity (间接带动)")


class Classification(models.TextChoices):
    """Five-level classification (五级分类, P1 art.43(6)), best first."""

    NORMAL = "normal", _("Normal")
    SPECIAL_MENTION = "special_mention", _("Special mention")
    SUBSTANDARD = "substandard", _("Substandard")
    DOUBTFUL = "doubtful", _("Doubtful")
    LOSS = "loss", _("Loss")


CLASSIFICATION_ORDER = [c.value for c in Classification]
