"""Dashboard notices about applications (issue 14), posted by the services in the same
transaction as the step: who must act next hears of it on their home page.

- sent back at village review: the cadres of the household's village;
- an objection during publicity: the village's cadres and its township's officers;
- returned by the approver: the loan officers of the branch.

One notice per application and addressee (core.services.notice_post keys it on the link), so
the latest step is what it says. The text is stored in the site's language."""

from __future__ import annotations

import functools

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import Role
from core.services import notice_post

from .models import LoanApplication


def _in_site_language(post):
    """Notices are stored as text: in the site's language, whatever the language of the person
    whose step posted them."""

    @functools.wraps(post)
    def wrapper(*args, **kwargs):
        with translation.override(settings.LANGUAGE_CODE):
            return post(*args, **kwargs)

    return wrapper


def _subject(app: LoanApplication) -> dict:
    return {"no": app.pk, "name": app.borrower.name, "village": app.household.village.name}


def _url(app: LoanApplication) -> str:
    return reverse("loans:application_detail", args=[app.pk])


@_in_site_language
def sent_back(app: LoanApplication, comment: str) -> None:
    notice_post(
        unit=app.household.village,
        role=Role.VILLAGE_CADRE,
        title=_("Application #%(no)d (%(name)s, %(village)s) was sent back for changes") % _subject(app),
        body=comment,
        url=_url(app),
    )


@_in_site_language
def objection_filed(app: LoanApplication, text: str) -> None:
    village = app.household.village
    title = _("An objection was recorded against application #%(no)d (%(name)s, %(village)s)") % _subject(app)
    body = _("Publicity is suspended and the application is back in village review: %(text)s") % {
        "text": text
    }
    for unit, role in ((village, Role.VILLAGE_CADRE), (village.parent, Role.TOWNSHIP_OFFICER)):
        notice_post(unit=unit, role=role, title=title, body=body, url=_url(app))


@_in_site_language
def returned_to_officer(app: LoanApplication, comment: str) -> None:
    if app.branch_id is None:
        return
    notice_post(
        unit=app.branch,
        role=Role.LOAN_OFFICER,
        title=_("Application #%(no)d (%(name)s, %(village)s) was returned to the loan officer")
        % _subject(app),
        body=comment,
        url=_url(app),
    )
