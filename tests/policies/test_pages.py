"""The server-rendered pages: they render for the roles that may use them, 403 for the others,
show service errors next to the fields, and keep a fixed number of queries."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from policies.models import CalendarDay, CalendarYear, PolicyProfile, Rate
from tests.factories import PolicyProfileFactory

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def test_profile_list_shows_the_visible_profiles_with_their_status(
    world, client_as, django_assert_max_num_queries
):
    for year in range(2016, 2022):
        PolicyProfileFactory(county=world.county, effective_from=datetime.date(year, 1, 1), name=f"{year}版")
    client = client_as(world.admin)
    with django_assert_max_num_queries(10):
        r = client.get(reverse("policies:profile_list"))
    assert r.status_code == 200
    html = r.content.decode()
    assert "2021版" in html
    assert world.other_county.name not in html
    assert html.count('class="tag ok"') == 1  # exactly one version in force
    statuses = {p.name: p.status for p in r.context["profiles"]}
    assert statuses["2021版"] == "in_force"
    assert statuses["2016版"] == "superseded"


def test_profile_list_renders_for_a_cadre_without_admin_links(world, client_as):
    r = client_as(world.cadre).get(reverse("policies:profile_list"))
    assert r.status_code == 200
    assert reverse("policies:profile_create") not in r.content.decode()


def test_profile_detail_shows_every_parameter_with_help(world, client_as):
    r = client_as(world.county_office).get(reverse("policies:profile_detail", args=[world.profile.pk]))
    assert r.status_code == 200
    sections = r.context["sections"]
    assert (
        sum(len(rows) for _title, rows in sections)
        == len([f for f in PolicyProfile._meta.concrete_fields]) - 7
    )  # id, county, name, effective_from, source_text, created_by, created_at
    assert all(help for _title, rows in sections for _label, _value, help in rows)


def test_profile_detail_out_of_scope_is_404(world, client_as):
    r = client_as(world.cadre).get(reverse("policies:profile_detail", args=[world.other_profile.pk]))
    assert r.status_code == 404


def test_new_version_form_is_prefilled_from_the_version_in_force(world, client_as):
    world.profile.age_plus_term_max = 60
    world.profile.save()
    r = client_as(world.admin).get(reverse("policies:profile_create") + f"?county={world.county.pk}")
    assert r.status_code == 200
    form = r.context["form"]
    assert form.initial["age_plus_term_max"] == 60
    assert form.initial["effective_from"] == TODAY()
    titles = [title for _key, title, _fields in form.sections()]
    assert len(titles) == 7
    html = r.content.decode()
    assert 'name="publicity_levels"' in html
    assert 'id="section-riskfund"' in html


def test_posting_the_form_creates_a_version(world, client_as):
    client = client_as(world.admin)
    initial = (
        client.get(reverse("policies:profile_create") + f"?from={world.profile.pk}").context["form"].initial
    )
    data = {k: v for k, v in initial.items() if v is not None and not isinstance(v, bool)}
    data |= {k: "on" for k, v in initial.items() if v is True}
    data |= {"name": "2027版", "source_text": "通知", "effective_from": str(TODAY()), "amount_max": "40000"}
    data["publicity_levels"] = ["village", "county"]
    r = client.post(reverse("policies:profile_create"), data)
    assert r.status_code == 302, r.context["form"].errors
    new = PolicyProfile.objects.get(name="2027版")
    assert r.url == reverse("policies:profile_detail", args=[new.pk])
    assert new.amount_max == 40000
    assert new.publicity_levels == ["village", "county"]
    assert new.created_by == world.admin


def test_a_back_dated_version_shows_the_rule_next_to_the_date(world, client_as):
    client = client_as(world.admin)
    initial = (
        client.get(reverse("policies:profile_create") + f"?from={world.profile.pk}").context["form"].initial
    )
    data = {k: v for k, v in initial.items() if v is not None and not isinstance(v, bool)}
    data |= {
        "name": "补录",
        "source_text": "通知",
        "effective_from": str(TODAY() - datetime.timedelta(days=3)),
    }
    r = client.post(reverse("policies:profile_create"), data)
    assert r.status_code == 200
    assert "effective_from" in r.context["form"].errors
    assert PolicyProfile.objects.filter(county=world.county).count() == 1


def test_a_bad_parameter_shows_next_to_its_field(world, client_as):
    client = client_as(world.admin)
    initial = (
        client.get(reverse("policies:profile_create") + f"?from={world.profile.pk}").context["form"].initial
    )
    data = {k: v for k, v in initial.items() if v is not None and not isinstance(v, bool)}
    data |= {"name": "错", "source_text": "通知", "effective_from": str(TODAY()), "age_min": "70"}
    r = client.post(reverse("policies:profile_create"), data)
    assert r.status_code == 200
    assert "age_max" in r.context["form"].errors


@pytest.mark.parametrize("name", ["policies:profile_create", "policies:calendar"])
@pytest.mark.parametrize("who", ["cadre", "county_office", "officer"])
def test_admin_pages_are_403_for_other_roles(world, client_as, name, who):
    client = client_as(getattr(world, who))
    assert client.get(reverse(name)).status_code == 403
    assert client.post(reverse(name), {}).status_code == 403


def test_admin_pages_send_anonymous_users_to_login(client):
    r = client.get(reverse("policies:calendar"))
    assert r.status_code == 302
    assert reverse("accounts:login") in r.url


def test_rate_list_for_everyone_with_the_form_for_admins(world, client_as, django_assert_max_num_queries):
    client = client_as(world.cadre)
    with django_assert_max_num_queries(8):
        r = client.get(reverse("policies:rate_list"))
    assert r.status_code == 200
    assert "form" not in r.context
    assert r.content.decode().count('class="tag ok"') == 5  # three benchmark tenors, two LPRs in force
    assert client.post(reverse("policies:rate_list"), {}).status_code == 403

    admin = client_as(world.admin)
    assert "form" in admin.get(reverse("policies:rate_list")).context
    r = admin.post(
        reverse("policies:rate_list"),
        {
            "kind": "lpr",
            "tenor": "lpr1y",
            "effective_from": "2026-12-21",
            "annual_rate": "2.95",
            "source": "公告",
        },
    )
    assert r.status_code == 302
    assert Rate.objects.filter(effective_from="2026-12-21", annual_rate="2.95").exists()
    r = admin.post(
        reverse("policies:rate_list"),
        {
            "kind": "lpr",
            "tenor": "lpr1y",
            "effective_from": "2026-01-01",
            "annual_rate": "2.95",
            "source": "公告",
        },
    )
    assert r.status_code == 200
    assert "effective_from" in r.context["form"].errors


@pytest.mark.today("2026-11-01")
def test_calendar_page_shows_years_and_highlights_the_missing_one(
    world, client_as, django_assert_max_num_queries
):
    client = client_as(world.admin)
    with django_assert_max_num_queries(10):
        r = client.get(reverse("policies:calendar"))
    assert r.status_code == 200
    years = {y.year: y for y in r.context["years"]}
    assert set(range(2004, 2027)) <= set(years)
    assert 2027 not in years
    y2023 = years[2023]
    assert (y2023.working_days, y2023.rest_days) == (
        CalendarDay.objects.filter(year_id=2023, is_working_day=True).count(),
        CalendarDay.objects.filter(year_id=2023, is_working_day=False).count(),
    )
    # 2023's worked weekend days: 01-28, 01-29, 04-23, 05-06, 06-25, 10-07, 10-08.
    assert y2023.adjusted_workdays == 7
    # From 1 November 2026 the missing 2027 is named, and it is the year the forms offer.
    assert [(w.code, w.year) for w in r.context["reference_warnings"]] == [("calendar_next_missing", 2027)]
    assert 'id="warning-calendar_next_missing"' in r.content.decode()
    assert r.context["define_form"].initial["year"] == 2027
    assert r.context["import_form"].initial["year"] == 2027


@pytest.mark.today("2026-06-17")
def test_calendar_page_before_november_offers_next_year_without_a_warning(world, client_as):
    r = client_as(world.admin).get(reverse("policies:calendar"))
    assert r.context["reference_warnings"] == []
    assert "reference-warning" not in r.content.decode()
    assert r.context["define_form"].initial["year"] == 2027


def test_calendar_tool_counts_and_names_a_missing_year(world, client_as):
    client = client_as(world.admin)
    r = client.get(reverse("policies:calendar"), {"start": "2023-09-28", "count": "5"})
    assert r.context["tool_result"] == datetime.date(2023, 10, 10)
    assert "2023-10-10" in r.content.decode()
    r = client.get(reverse("policies:calendar"), {"start": "2026-12-28", "count": "5"})
    assert r.status_code == 200
    assert r.context["tool_result"] is None
    assert any("2027" in e for e in r.context["tool_form"].non_field_errors())


def test_calendar_page_shows_a_years_holidays(world, client_as):
    r = client_as(world.admin).get(reverse("policies:calendar"), {"year": "2023"})
    days = {d.date: d for d in r.context["special_days"]}
    assert days[datetime.date(2023, 10, 2)].note == "国庆节"
    assert days[datetime.date(2023, 10, 7)].is_working_day


HOLIDAY_LINES = "\n".join(
    [
        "2027-01-01 2027-01-03 元旦",
        "2027-02-06 至 2027-02-13 春节",
        "2027年4月3日~2027年4月5日 清明节",
        "2027-05-01 2027-05-05 劳动节",
        "2027-06-09 2027-06-11 端午节",
        "2027-09-15 2027-09-17 中秋节",
        "2027-10-01 2027-10-07 国庆节",
    ]
)


def test_an_admin_types_in_a_year(world, client_as):
    client = client_as(world.admin)
    r = client.post(
        reverse("policies:calendar"),
        {
            "action": "define",
            "year": "2027",
            "source": "国务院办公厅关于2027年部分节假日安排的通知",
            "holidays": HOLIDAY_LINES,
            "workdays": "2027-02-14 春节\n2027-02-20\n\n2027-10-09 国庆节",
        },
    )
    assert r.status_code == 302, r.context["define_form"].errors
    assert CalendarDay.objects.filter(year_id=2027).count() == 365
    assert CalendarDay.objects.get(date="2027-04-05").is_working_day is False
    assert CalendarDay.objects.get(date="2027-02-20").is_working_day is True
    # Posting it again needs the replace box.
    r = client.post(
        reverse("policies:calendar"),
        {"action": "define", "year": "2027", "source": "更正", "holidays": "2027-01-01 元旦", "workdays": ""},
    )
    assert r.status_code == 200
    assert "replace" in r.context["define_form"].errors
    assert CalendarYear.objects.get(year=2027).source.startswith("国务院")


@pytest.mark.parametrize(
    ("holidays", "workdays", "field"),
    [
        ("2027-10-01 2027-10-07 国庆节", "2027-10-11", "workdays"),  # a Monday
        ("十月一日 国庆节", "", "holidays"),  # unreadable line
        ("2027-02-30 春节", "", "holidays"),  # no such date
        ("2026-12-31 2027-01-01 元旦", "", "holidays"),  # not inside the year
    ],
)
def test_bad_year_input_is_shown_next_to_the_field(world, client_as, holidays, workdays, field):
    r = client_as(world.admin).post(
        reverse("policies:calendar"),
        {"action": "define", "year": "2027", "source": "通知", "holidays": holidays, "workdays": workdays},
    )
    assert r.status_code == 200
    assert field in r.context["define_form"].errors
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_loading_a_year_the_library_lacks_is_an_error_on_the_page(world, client_as):
    r = client_as(world.admin).post(reverse("policies:calendar"), {"action": "library", "year": "2027"})
    assert r.status_code == 200
    assert "year" in r.context["library_form"].errors


def test_django_admin_lists_are_read_only(world, client_as):
    from tests.factories import UserFactory

    client = client_as(UserFactory(username="root", is_superuser=True, is_staff=True))
    for name in ["policyprofile", "rate", "calendaryear", "calendarday"]:
        r = client.get(reverse(f"admin:policies_{name}_changelist"))
        assert r.status_code == 200, name
        assert reverse(f"admin:policies_{name}_add") not in r.content.decode()
    r = client.get(reverse("admin:policies_calendaryear_change", args=[2023]))
    assert r.status_code == 200
    assert "国庆节" in r.content.decode()
