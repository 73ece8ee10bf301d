import pytest

from loans.selectors import application_list
from loans.workflow import State

pytestmark = pytest.mark.django_db


def test_the_bank_sees_an_application_only_from_submission_on(
    world, new_application, drive, api_as, client_as
):
    draft = new_application()
    officer_sees = lambda: set(application_list(user=world.officer).values_list("pk", flat=True))  # noqa: E731
    assert draft.pk in set(application_list(user=world.cadre).values_list("pk", flat=True))
    assert draft.pk not in officer_sees()
    assert api_as(world.officer).get(f"/api/v1/applications/{draft.pk}/").status_code == 404
    assert client_as(world.approver).get(f"/loans/{draft.pk}/").status_code == 404

    drive(draft, State.VILLAGE_REVIEW)
    assert draft.pk in officer_sees()


def test_other_counties_never_see_the_application(world, new_application, drive):
    app = drive(new_application(), State.PUBLICITY)
    assert not application_list(user=world.other_cadre).filter(pk=app.pk).exists()
    assert application_list(user=world.county_office).filter(pk=app.pk).exists()
    assert not application_list(user=world.approver).filter(state=State.DRAFT).exists()
