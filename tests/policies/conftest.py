import datetime

import pytest

from accounts.models import Role
from tests.factories import CountyFactory, UserFactory


@pytest.fixture
def fresh_admin(db):
    """An administrator of a county that has no policy profile yet."""
    county = CountyFactory(name="荔浦市", code="450381")
    return UserFactory(username="fresh-admin", unit=county, roles=[Role.ADMIN])


def d(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text)


# A made-up 2027 arrangement in the shape of the State Council's notice.
HOLIDAYS_2027 = [
    (d("2027-01-01"), d("2027-01-03"), "元旦"),
    (d("2027-02-06"), d("2027-02-13"), "春节"),
    (d("2027-04-03"), d("2027-04-05"), "清明节"),
    (d("2027-05-01"), d("2027-05-05"), "劳动节"),
    (d("2027-06-09"), d("2027-06-11"), "端午节"),
    (d("2027-09-15"), d("2027-09-17"), "中秋节"),
    (d("2027-10-01"), d("2027-10-07"), "国庆节"),
]
WORKDAYS_2027 = [
    d("2027-02-14"),
    (d("2027-02-20"), "春节"),
    d("2027-04-25"),
    d("2027-09-26"),
    d("2027-10-09"),
]
