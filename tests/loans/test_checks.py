"""Post-loan checks (贷后检查) and the five-level classification (DOMAIN §5): scheduling, the floor
by days past due and for extended loans with their breaking inputs, the reason for a change, the
history, scope and roles, and lists whose query count does not grow with their rows."""

import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from core.exceptions import ApplicationError, ConflictError, NotPermitted
from core.models import AuditEvent
from loans import selectors
from loans.choices import Classification
from loans.models import CheckPhoto, ClassificationChange, Extension, Loan, PostLoanCheck
from loans.services import checks
from loans.tasks import schedule_checks
from tests.factories import HouseholdFactory
from tests.loans.test_settlements import make_loan

D = datetime.date
C = Classification


def png(name="field.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (40, 160, 60)).save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def count_queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


@pytest.fixture
def loan(world, household):
    return make_loan(household, world, disbursed_on=D(2025, 8, 31), maturity_on=D(2027, 8, 31))


def open_check(loan) -> PostLoanCheck:
    return PostLoanCheck.objects.get(loan=loan, done_on__isnull=True)


def record(world, loan, user=None, **kw):
    values = dict(
        done_on=timezone.localdate(),
        funds_as_agreed=True,
        findings="实地查看：肉牛 5 头，圈舍完好，资金用于购牛",
        classification=loan.classification,
        classification_reason="",
    )
    values.update(kw)
    checks.check_schedule_ensure(on_date=timezone.localdate())
    return checks.check_record(acting_user=user or world.officer, check=open_check(loan), **values)


def rule_of(error: ApplicationError) -> dict:
    assert error.code == "rule_failed"
    return error.extra["rules"][0]


# ---- scheduling -------------------------------------------------------------------------------


def test_first_check_due_within_the_profiles_months_after_disbursement(world, loan):
    assert checks.check_schedule_ensure(on_date=D(2025, 9, 1)) == 1
    # 31 Aug + 6 months is the last day of February.
    assert open_check(loan).due_on == D(2026, 2, 28)


def test_first_check_follows_the_profile(world, loan):
    world.profile.first_check_within_months = 3
    world.profile.save()
    checks.check_schedule_ensure(on_date=D(2025, 9, 1))
    assert open_check(loan).due_on == D(2025, 11, 30)


def test_next_check_after_the_interval_from_the_last_done(world, loan):
    done = record(world, loan, done_on=D(2026, 2, 10))
    assert done.done_on == D(2026, 2, 10)
    assert open_check(loan).due_on == D(2027, 2, 10)


def test_scheduler_uses_the_last_done_check(world, loan):
    PostLoanCheck.objects.create(loan=loan, due_on=D(2026, 2, 28), done_on=D(2026, 3, 5), findings="x")
    checks.check_schedule_ensure(on_date=D(2026, 3, 6))
    assert open_check(loan).due_on == D(2027, 3, 5)


def test_scheduling_is_idempotent(world, loan, household):
    other = make_loan(household, world, disbursed_on=D(2025, 1, 15), maturity_on=D(2027, 1, 15))
    checks.check_schedule_ensure(on_date=D(2025, 9, 1))
    first = list(PostLoanCheck.objects.order_by("pk").values_list("loan_id", "due_on"))
    assert checks.check_schedule_ensure(on_date=D(2025, 9, 2)) == 0
    assert schedule_checks("2025-09-03") == 0
    assert list(PostLoanCheck.objects.order_by("pk").values_list("loan_id", "due_on")) == first
    assert {loan_id for loan_id, _d in first} == {loan.pk, other.pk}


def test_the_constraint_guards_a_second_open_check(world, loan):
    checks.check_schedule_ensure(on_date=D(2025, 9, 1))
    # A batch that races a run already done adds nothing instead of failing.
    PostLoanCheck.objects.bulk_create([PostLoanCheck(loan=loan, due_on=D(2026, 1, 1))], ignore_conflicts=True)
    assert PostLoanCheck.objects.filter(loan=loan).count() == 1


@pytest.mark.parametrize("state", [Loan.State.SETTLED, Loan.State.COMPENSATED, Loan.State.WRITTEN_OFF])
def test_closed_loans_get_no_check(world, household, state):
    make_loan(household, world, state=state, outstanding=0)
    assert checks.check_schedule_ensure(on_date=D(2025, 9, 1)) == 0
    assert not PostLoanCheck.objects.exists()


def test_scheduling_queries_do_not_grow_with_loans(world, household):
    make_loan(household, world)
    few = count_queries(lambda: checks.check_schedule_ensure(on_date=D(2025, 9, 1)))
    PostLoanCheck.objects.all().delete()
    for _i in range(15):
        make_loan(household, world)
    many = count_queries(lambda: checks.check_schedule_ensure(on_date=D(2025, 9, 1)))
    assert few == many
    assert PostLoanCheck.objects.count() == 16


# ---- the classification floor ---------------------------------------------------------------------


def overdue(loan, days) -> Loan:
    Loan.objects.filter(pk=loan.pk).update(days_past_due=days, state=Loan.State.OVERDUE)
    loan.refresh_from_db()
    return loan


@pytest.mark.parametrize("better", [C.NORMAL, C.SPECIAL_MENTION])
def test_overdue_91_days_cannot_be_better_than_substandard(world, loan, better):
    overdue(loan, 91)
    with pytest.raises(ApplicationError) as e:
        record(world, loan, classification=better, classification_reason="还款意愿好")
    rule = rule_of(e.value)
    assert rule["rule"] == "classification_floor"
    assert rule["floor"] == C.SUBSTANDARD and rule["days_past_due"] == 91
    assert "商业银行金融资产风险分类办法" in rule["source"]
    assert e.value.field == "classification"
    assert open_check(loan).done_on is None
    assert not ClassificationChange.objects.exists()


def test_overdue_91_days_substandard_is_accepted(world, loan):
    overdue(loan, 91)
    record(world, loan, classification=C.SUBSTANDARD, classification_reason="逾期超过 90 天")
    loan.refresh_from_db()
    assert loan.classification == C.SUBSTANDARD


def test_overdue_90_days_may_stay_special_mention(world, loan):
    Loan.objects.filter(pk=loan.pk).update(classification=C.SPECIAL_MENTION)
    overdue(loan, 90)
    record(world, loan, classification=C.SPECIAL_MENTION)
    loan.refresh_from_db()
    assert loan.classification == C.SPECIAL_MENTION


def test_any_overdue_cannot_be_normal(world, loan):
    overdue(loan, 1)
    with pytest.raises(ApplicationError) as e:
        record(world, loan, classification=C.NORMAL)
    assert rule_of(e.value)["floor"] == C.SPECIAL_MENTION


def test_extended_loan_cannot_be_normal(world, loan):
    Loan.objects.filter(pk=loan.pk).update(state=Loan.State.EXTENDED)
    loan.refresh_from_db()
    with pytest.raises(ApplicationError) as e:
        record(world, loan, classification=C.NORMAL)
    rule = rule_of(e.value)
    assert rule["floor"] == C.SPECIAL_MENTION and rule["extended"] is True
    record(world, loan, classification=C.SPECIAL_MENTION, classification_reason="已展期")
    loan.refresh_from_db()
    assert loan.classification == C.SPECIAL_MENTION


def test_loan_with_an_approved_extension_cannot_be_normal(world, loan):
    Extension.objects.create(
        loan=loan,
        months=6,
        old_maturity_on=loan.maturity_on,
        new_maturity_on=D(2028, 2, 29),
        reason="因灾减产",
        status=Extension.Status.APPROVED,
        requested_by=world.officer,
        requested_on=D(2026, 1, 5),
        decided_by=world.approver,
        decided_on=D(2026, 1, 8),
    )
    with pytest.raises(ApplicationError) as e:
        record(world, loan, classification=C.NORMAL)
    assert rule_of(e.value)["floor"] == C.SPECIAL_MENTION


def test_worse_than_the_floor_is_allowed_with_a_reason(world, loan):
    record(world, loan, classification=C.DOUBTFUL, classification_reason="养殖场已关闭，借款人外出")
    loan.refresh_from_db()
    assert loan.classification == C.DOUBTFUL
    change = ClassificationChange.objects.get(loan=loan)
    assert (change.from_class, change.to_class, change.floor, change.days_past_due) == (
        C.NORMAL,
        C.DOUBTFUL,
        C.NORMAL,
        0,
    )
    assert change.by == world.officer and change.reason == "养殖场已关闭，借款人外出"
    assert AuditEvent.objects.filter(action="loan.classify", object_id=str(loan.pk)).exists()


def test_a_change_needs_a_reason(world, loan):
    with pytest.raises(ApplicationError) as e:
        record(world, loan, classification=C.SPECIAL_MENTION, classification_reason="  ")
    assert e.value.code == "invalid" and e.value.field == "classification_reason"
    loan.refresh_from_db()
    assert loan.classification == C.NORMAL


def test_unchanged_classification_needs_no_reason_and_writes_no_change(world, loan):
    check = record(world, loan, classification=C.NORMAL, photos=[png("a.png"), png("b.png")])
    assert check.officer == world.officer and check.funds_as_agreed is True
    assert CheckPhoto.objects.filter(post_loan_check=check).count() == 2
    assert not ClassificationChange.objects.exists()
    assert AuditEvent.objects.filter(action="loan.check", object_id=str(loan.pk)).exists()


def test_findings_are_required(world, loan):
    with pytest.raises(ApplicationError) as e:
        record(world, loan, findings=" ")
    assert e.value.field == "findings"


def test_check_date_not_in_the_future(world, loan):
    with pytest.raises(ApplicationError) as e:
        record(world, loan, done_on=timezone.localdate() + datetime.timedelta(days=1))
    assert e.value.field == "done_on"


def test_a_check_is_recorded_once(world, loan):
    checks.check_schedule_ensure(on_date=timezone.localdate())
    check = open_check(loan)
    record(world, loan)
    with pytest.raises(ConflictError):
        checks.check_record(
            acting_user=world.officer,
            check=check,
            done_on=timezone.localdate(),
            funds_as_agreed=True,
            findings="再次检查",
            classification=C.NORMAL,
        )


def test_history_keeps_every_change(world, loan):
    record(world, loan, classification=C.SPECIAL_MENTION, classification_reason="经营下滑")
    record(world, loan, classification=C.NORMAL, classification_reason="经营恢复")
    assert list(ClassificationChange.objects.filter(loan=loan).values_list("from_class", "to_class")) == [
        (C.NORMAL, C.SPECIAL_MENTION),
        (C.SPECIAL_MENTION, C.NORMAL),
    ]


# ---- roles and scope ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["cadre", "approver", "township_officer", "county_office"])
def test_other_roles_may_not_record(world, loan, who):
    with pytest.raises(NotPermitted):
        record(world, loan, user=getattr(world, who))


def test_officer_of_another_branch_may_not_record(world, loan):
    from accounts.models import Role
    from tests.factories import UserFactory

    stranger = UserFactory(username="officer2", unit=world.br2, roles=[Role.LOAN_OFFICER])
    with pytest.raises(NotPermitted):
        record(world, loan, user=stranger)


def test_admin_may_record(world, loan):
    assert record(world, loan, user=world.admin).officer == world.admin


# ---- lists -------------------------------------------------------------------------------------------


def make_due(world, n, due_on, village=None):
    for _i in range(n):
        household = HouseholdFactory(village=village or world.v1a)
        PostLoanCheck.objects.create(loan=make_loan(household, world), due_on=due_on)


def test_checks_due_splits_due_soon_and_overdue(world):
    today = D(2026, 3, 1)
    make_due(world, 2, D(2026, 2, 28))  # overdue
    make_due(world, 1, D(2026, 3, 1))  # due today
    make_due(world, 1, D(2026, 3, 31))  # day 30
    make_due(world, 1, D(2026, 4, 1))  # beyond 30 days
    make_due(world, 1, D(2026, 2, 1), village=world.v2a)  # another branch's township
    assert selectors.checks_due(user=world.officer, on_date=today, status="overdue").count() == 2
    assert selectors.checks_due(user=world.officer, on_date=today, status="due").count() == 2
    assert selectors.checks_due(user=world.officer, on_date=today).count() == 4
    assert selectors.checks_due_counts(user=world.officer, on_date=today) == {"due": 2, "overdue": 2}
    assert selectors.checks_due_counts(user=world.cadre, on_date=today) == {"due": 2, "overdue": 2}
    assert selectors.checks_due_counts(user=world.other_cadre, on_date=today) == {"due": 0, "overdue": 0}


def test_checks_of_closed_loans_are_not_listed(world):
    make_due(world, 1, D(2026, 2, 1))
    Loan.objects.update(state=Loan.State.SETTLED, outstanding=0)
    assert not selectors.checks_due(user=world.officer, on_date=D(2026, 3, 1)).exists()


def test_cadre_sees_only_their_village(world):
    make_due(world, 1, D(2026, 2, 1), village=world.v1a)
    make_due(world, 1, D(2026, 2, 1), village=world.v1b)
    assert selectors.checks_due(user=world.cadre, on_date=D(2026, 3, 1)).count() == 1
    assert selectors.checks_due(user=world.officer, on_date=D(2026, 3, 1)).count() == 2


def test_list_page_queries_do_not_grow(world, client_as):
    client = client_as(world.officer)
    today = timezone.localdate()
    make_due(world, 1, today - datetime.timedelta(days=3))
    url = reverse("loans:checks_due") + "?status=overdue"
    few = count_queries(lambda: client.get(url))
    make_due(world, 12, today - datetime.timedelta(days=3))
    response = client.get(url)
    assert response.status_code == 200 and response.content.decode().count("/record/") == 13
    assert count_queries(lambda: client.get(url)) == few


def test_list_api_queries_do_not_grow(world, api_as):
    api = api_as(world.cadre)
    today = timezone.localdate()
    make_due(world, 1, today + datetime.timedelta(days=3))
    few = count_queries(lambda: api.get("/api/v1/checks/?status=due"))
    make_due(world, 12, today + datetime.timedelta(days=3))
    response = api.get("/api/v1/checks/?status=due")
    assert response.status_code == 200 and response.json()["count"] == 13
    assert count_queries(lambda: api.get("/api/v1/checks/?status=due")) == few


def test_list_api_rejects_an_unknown_status(world, api_as):
    assert api_as(world.officer).get("/api/v1/checks/?status=soon").status_code == 400


# ---- pages ------------------------------------------------------------------------------------------


def test_check_form_shows_the_floor_and_records(world, loan, client_as):
    overdue(loan, 120)
    checks.check_schedule_ensure(on_date=timezone.localdate())
    check = open_check(loan)
    client = client_as(world.officer)
    url = reverse("loans:check_record", args=[check.pk])
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="normal"' not in html and 'value="substandard"' in html
    response = client.post(
        url,
        {
            "done_on": timezone.localdate().isoformat(),
            "funds_as_agreed": "no",
            "findings": "资金部分用于建房",
            "classification": "doubtful",
            "classification_reason": "挪用资金",
            "photos": [png()],
        },
    )
    assert response.status_code == 302
    check.refresh_from_db()
    assert check.done_on and check.funds_as_agreed is False and check.photos.count() == 1
    photo = check.photos.get()
    served = client.get(reverse("loans:check_photo", args=[check.pk, photo.pk]))
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    detail = client.get(reverse("loans:book_detail", args=[loan.pk]))
    assert detail.status_code == 200 and reverse("loans:check_record", args=[open_check(loan).pk]) in (
        detail.content.decode()
    )


def test_check_form_refuses_a_better_class_posted_anyway(world, loan, client_as):
    overdue(loan, 120)
    checks.check_schedule_ensure(on_date=timezone.localdate())
    url = reverse("loans:check_record", args=[open_check(loan).pk])
    response = client_as(world.officer).post(
        url,
        {
            "done_on": timezone.localdate().isoformat(),
            "funds_as_agreed": "yes",
            "findings": "正常",
            "classification": "normal",
            "classification_reason": "x",
        },
    )
    assert response.status_code == 400


def test_check_form_out_of_scope_404_wrong_role_403(world, loan, client, client_as):
    from accounts.models import Role
    from tests.factories import UserFactory

    checks.check_schedule_ensure(on_date=timezone.localdate())
    url = reverse("loans:check_record", args=[open_check(loan).pk])
    assert client_as(world.other_cadre).get(url).status_code == 404
    client.logout()
    stranger = UserFactory(username="officer2", unit=world.br2, roles=[Role.LOAN_OFFICER])
    assert client_as(stranger).get(url).status_code == 404
    client.logout()
    assert client_as(world.cadre).get(url).status_code == 403


# ---- API --------------------------------------------------------------------------------------------


def payload(**kw):
    values = {
        "done_on": timezone.localdate().isoformat(),
        "funds_as_agreed": True,
        "findings": "资金按约定用途使用",
        "classification": "normal",
        "classification_reason": "",
    }
    values.update(kw)
    return values


def test_api_records_a_check_json(world, loan, api_as):
    checks.check_schedule_ensure(on_date=timezone.localdate())
    check = open_check(loan)
    response = api_as(world.officer).post(f"/api/v1/checks/{check.pk}/record/", payload(), format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == check.pk and body["done_on"] == timezone.localdate().isoformat()
    assert body["classification"] == "normal"


def test_api_records_a_check_multipart_with_photos(world, loan, api_as):
    checks.check_schedule_ensure(on_date=timezone.localdate())
    check = open_check(loan)
    data = payload(
        classification="special_mention",
        classification_reason="经营下滑",
        photos=[png("a.png"), png("b.png")],
    )
    response = api_as(world.officer).post(f"/api/v1/checks/{check.pk}/record/", data, format="multipart")
    assert response.status_code == 200, response.json()
    assert len(response.json()["photos"]) == 2
    loan.refresh_from_db()
    assert loan.classification == C.SPECIAL_MENTION


def test_api_floor_is_a_400_rule_failed(world, loan, api_as):
    overdue(loan, 91)
    checks.check_schedule_ensure(on_date=timezone.localdate())
    check = open_check(loan)
    response = api_as(world.officer).post(
        f"/api/v1/checks/{check.pk}/record/",
        payload(classification="special_mention", classification_reason="x"),
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "rule_failed"
    assert body["extra"]["rules"][0]["rule"] == "classification_floor"
    assert body["extra"]["rules"][0]["floor"] == "substandard"


def test_api_wrong_role_403_out_of_scope_404(world, loan, api_as):
    checks.check_schedule_ensure(on_date=timezone.localdate())
    url = f"/api/v1/checks/{open_check(loan).pk}/record/"
    assert api_as(world.cadre).post(url, payload(), format="json").status_code == 403
    assert api_as(world.other_cadre).post(url, payload(), format="json").status_code == 404
    assert open_check(loan).done_on is None
