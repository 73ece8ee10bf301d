"""The loan book pages (list, detail, import) and the loan detail API: filters, overdue buckets,
the import's preview → confirm flow, and query counts that do not grow with the data."""

import datetime
from decimal import Decimal

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loans.choices import Classification
from loans.models import (
    BorrowerEvent,
    ClassificationChange,
    Extension,
    InsurancePayout,
    InsurancePolicy,
    Loan,
    LoanApplication,
    PostLoanCheck,
    Repayment,
    Settlement,
)
from loans.workflow import State
from tests.factories import HouseholdFactory, LoanFactory, RepaymentFactory, SettlementFactory


def make_loan(world, household, **over):
    """A loan straight in the book (LoanFactory): 50,000 from 2021-03-01 to 2024-03-01, at the
    branch of the household's township, entered (not imported)."""
    values = dict(
        branch=world.br1 if household.village.parent_id == world.t1.pk else world.br2,
        contract_no=factory.Sequence(lambda n: f"BK-{n:05d}"),
        receipt_no=factory.Sequence(lambda n: f"BR-{n:05d}"),
        amount=Decimal("50000.00"),
        outstanding=Decimal("50000.00"),
        disbursed_on=datetime.date(2021, 3, 1),
        maturity_on=datetime.date(2024, 3, 1),
        purpose_category="breeding",
        imported=False,
    )
    return LoanFactory(household=household, **{**values, **over})


def add_settlements(loan, user, count):
    start = datetime.date(2000, 1, 1)
    Settlement.objects.bulk_create(
        [
            SettlementFactory.build(
                loan=loan,
                period_start=start + datetime.timedelta(days=i),
                period_end=start + datetime.timedelta(days=i),
                interest_due=Decimal("6.04"),
                source=Settlement.Source.IMPORT,
                recorded_by=user,
            )
            for i in range(count)
        ]
    )
    Repayment.objects.bulk_create(
        [
            RepaymentFactory.build(
                loan=loan,
                paid_on=start + datetime.timedelta(days=i),
                principal=Decimal("1.00"),
                outstanding_after=loan.amount - i - 1,
                recorded_by=user,
            )
            for i in range(count)
        ]
    )
    ClassificationChange.objects.bulk_create(
        [
            ClassificationChange(
                loan=loan,
                from_class=Classification.NORMAL,
                to_class=Classification.SPECIAL_MENTION,
                floor=Classification.NORMAL,
                days_past_due=0,
                reason="贷后检查",
                by=user,
            )
            for _ in range(count)
        ]
    )


def count_queries(fn):
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


# ---------------------------------------------------------------------------------------------
# List


def test_list_filters_and_overdue_buckets(world, household, client_as):
    other = HouseholdFactory(village=world.v1b)
    days = {1: "1-30", 30: "1-30", 31: "31-90", 90: "31-90", 91: "91-180", 180: "91-180"}
    days |= {181: "181-270", 270: "181-270", 271: "271-360", 360: "271-360", 361: "360+", 1000: "360+"}
    loans = {d: make_loan(world, household, days_past_due=d, state=Loan.State.OVERDUE) for d in days}
    current = make_loan(world, other, classification=Classification.SUBSTANDARD)
    client = client_as(world.officer)
    url = reverse("loans:book_list")

    def shown(**params):
        response = client.get(url, params)
        assert response.status_code == 200
        return {loan.pk for loan in response.context["page_obj"].object_list}

    for bucket in ("1-30", "31-90", "91-180", "181-270", "271-360", "360+"):
        assert shown(bucket=bucket) == {loans[d].pk for d, b in days.items() if b == bucket}, bucket
    assert shown(state="active") == {current.pk}
    assert shown(classification="substandard") == {current.pk}
    assert shown(village=world.v1b.pk) == {current.pk}
    assert shown(q=current.contract_no) == {current.pk}
    assert shown(q=other.members.get(is_head=True).name) == {current.pk}


def test_list_is_scoped_and_paged(world, household, client_as):
    for _ in range(25):
        make_loan(world, household)
    make_loan(world, HouseholdFactory(village=world.v2a))
    response = client_as(world.officer).get(reverse("loans:book_list"))
    assert response.context["page_obj"].paginator.count == 25
    assert len(response.context["page_obj"].object_list) == 20
    assert "BK-" in response.content.decode()


def test_list_query_count_is_constant(world, household, client_as):
    client = client_as(world.officer)
    url = reverse("loans:book_list")
    make_loan(world, household)
    client.get(url)  # session, roles and the like are loaded once
    few = count_queries(lambda: client.get(url))
    for _ in range(19):
        make_loan(world, HouseholdFactory(village=world.v1a))
    many = count_queries(lambda: client.get(url))
    assert many == few


# ---------------------------------------------------------------------------------------------
# Detail


def test_detail_shows_chain_history_and_is_scoped(world, household, client_as):
    first = make_loan(
        world, household, state=Loan.State.SETTLED, outstanding=0, settled_on=datetime.date(2024, 3, 1)
    )
    renewal = make_loan(
        world,
        household,
        original_loan=first,
        disbursed_on=datetime.date(2024, 3, 1),
        maturity_on=datetime.date(2026, 3, 1),
    )
    add_settlements(renewal, world.officer, 3)
    page = client_as(world.officer).get(reverse("loans:book_detail", args=[renewal.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert first.contract_no in html and "贷后检查" in html
    page = client_as(world.officer).get(reverse("loans:book_detail", args=[first.pk]))
    assert renewal.contract_no in page.content.decode()
    outsider = make_loan(world, HouseholdFactory(village=world.v2a))
    assert client_as(world.officer).get(reverse("loans:book_detail", args=[outsider.pk])).status_code == 404


def add_servicing_history(world, loan, count):
    """Checks, extensions, insurance with payouts and the borrower's events, `count` of each
    where the model allows (one open check, one event of each kind)."""
    start = datetime.date(2021, 6, 1)
    PostLoanCheck.objects.bulk_create(
        [
            PostLoanCheck(
                loan=loan,
                due_on=start + datetime.timedelta(days=i),
                done_on=start + datetime.timedelta(days=i),
                officer=world.officer,
                funds_as_agreed=True,
                findings="资金用于养殖",
                classification=Classification.NORMAL,
            )
            for i in range(count)
        ]
        + [PostLoanCheck(loan=loan, due_on=datetime.date(2030, 1, 1))]
    )
    Extension.objects.bulk_create(
        [
            Extension(
                loan=loan,
                months=6,
                old_maturity_on=loan.maturity_on,
                new_maturity_on=loan.maturity_on + datetime.timedelta(days=180),
                reason="因病无法按期还款",
                status=Extension.Status.REJECTED,
                requested_by=world.officer,
                requested_on=start + datetime.timedelta(days=i),
                decided_by=world.approver,
                decided_on=start + datetime.timedelta(days=i + 1),
            )
            for i in range(count)
        ]
    )
    policies = InsurancePolicy.objects.bulk_create(
        [
            InsurancePolicy(
                loan=loan,
                kind=InsurancePolicy.Kind.ACCIDENT,
                insurer="人保财险",
                policy_no=f"P-{loan.pk}-{i}",
                premium=Decimal("50.00"),
                starts_on=start,
                ends_on=loan.maturity_on,
                recorded_by=world.officer,
            )
            for i in range(count)
        ]
    )
    InsurancePayout.objects.bulk_create(
        [
            InsurancePayout(
                policy=policy,
                amount=Decimal("100.00"),
                paid_on=start,
                reason="理赔",
                recorded_by=world.officer,
            )
            for policy in policies
        ]
    )
    for kind in list(BorrowerEvent.Kind)[:count]:
        BorrowerEvent.objects.create(
            member=loan.borrower, kind=kind, occurred_on=start, recorded_by=world.officer
        )


def test_detail_query_count_does_not_grow_with_history(world, household, client_as):
    bare = make_loan(world, household)
    one = make_loan(world, HouseholdFactory(village=world.v1a))
    many = make_loan(world, HouseholdFactory(village=world.v1a))
    add_settlements(one, world.officer, 1)
    add_settlements(many, world.officer, 30)
    add_servicing_history(world, one, 1)
    add_servicing_history(world, many, 30)
    renewal = make_loan(
        world,
        many.household,
        original_loan=many,
        disbursed_on=datetime.date(2024, 3, 1),
        maturity_on=datetime.date(2026, 3, 1),
    )
    client = client_as(world.officer)
    client.get(reverse("loans:book_detail", args=[one.pk]))
    counts = [
        count_queries(lambda loan=loan: client.get(reverse("loans:book_detail", args=[loan.pk])))
        for loan in (bare, one, many, renewal)
    ]
    assert len(set(counts)) == 1, counts
    html = client.get(reverse("loans:book_detail", args=[many.pk])).content.decode()
    assert html.count("因病无法按期还款") == 30 and html.count("资金用于养殖") == 30
    assert html.count(f"P-{many.pk}-") == 30
    assert renewal.contract_no in html


def test_detail_shows_schedule_with_the_settlement_of_each_period(world, household, client_as):
    loan = make_loan(
        world,
        household,
        disbursed_on=datetime.date(2021, 3, 1),
        maturity_on=datetime.date(2022, 3, 1),
        amount=Decimal("36000.00"),
        outstanding=Decimal("36000.00"),
        term_months=12,
        rate=Decimal("4.00"),
    )
    # 2021-03-01 → 03-20: 19 days × 36000 × 4% / 360 = 76.00; then 92 days to 06-20 = 368.00.
    SettlementFactory(
        loan=loan,
        period_start=datetime.date(2021, 3, 1),
        period_end=datetime.date(2021, 3, 19),
        interest_due=Decimal("76.00"),
        paid_on=datetime.date(2021, 3, 20),
        recorded_by=world.officer,
    )
    SettlementFactory(
        loan=loan,
        period_start=datetime.date(2021, 3, 20),
        period_end=datetime.date(2021, 6, 20),
        interest_due=Decimal("368.00"),
        paid_on=None,
        recorded_by=world.officer,
    )
    response = client_as(world.officer).get(reverse("loans:book_detail", args=[loan.pk]))
    rows = response.context["schedule"]
    assert [r["period"].start for r in rows][:3] == [
        datetime.date(2021, 3, 1),
        datetime.date(2021, 3, 20),
        datetime.date(2021, 6, 20),
    ]
    assert rows[-1]["period"].end == datetime.date(2022, 3, 1)
    assert [r["expected"] for r in rows[:2]] == [Decimal("76.00"), Decimal("368.00")]
    assert [r["status"] for r in rows[:3]] == ["paid", "unpaid", "missing"]
    assert rows[0]["interest_paid"] == Decimal("76.00")


def test_detail_offers_only_the_actions_the_user_may_take(world, household, client_as):
    loan = make_loan(world, household)
    page = client_as(world.officer).get(reverse("loans:book_detail", args=[loan.pk])).content.decode()
    for name in (
        "repayment_create",
        "settlement_manual",
        "change_extension_request",
        "change_insurance",
        "change_event",
        "change_malicious_default",
    ):
        assert reverse(f"loans:{name}", args=[loan.pk]) in page, name
    for name in ("change_renewal", "change_additional"):
        assert reverse(f"loans:{name}", args=[loan.pk]) not in page, name

    page = client_as(world.cadre).get(reverse("loans:book_detail", args=[loan.pk])).content.decode()
    assert reverse("loans:change_renewal", args=[loan.pk]) in page
    assert reverse("loans:change_additional", args=[loan.pk]) in page
    assert reverse("loans:repayment_create", args=[loan.pk]) not in page
    assert reverse("loans:change_extension_request", args=[loan.pk]) not in page

    # A requested extension: no second request, and the approver is sent to the queue.
    Extension.objects.create(
        loan=loan,
        months=6,
        old_maturity_on=loan.maturity_on,
        new_maturity_on=loan.maturity_on + datetime.timedelta(days=180),
        reason="因灾",
        requested_by=world.officer,
        requested_on=datetime.date(2024, 1, 5),
    )
    page = client_as(world.officer).get(reverse("loans:book_detail", args=[loan.pk])).content.decode()
    assert reverse("loans:change_extension_request", args=[loan.pk]) not in page
    page = client_as(world.approver).get(reverse("loans:book_detail", args=[loan.pk])).content.decode()
    assert reverse("loans:change_extension_queue") in page
    assert reverse("loans:repayment_create", args=[loan.pk]) not in page

    settled = make_loan(world, household, state=Loan.State.SETTLED, outstanding=0)
    page = client_as(world.officer).get(reverse("loans:book_detail", args=[settled.pk])).content.decode()
    assert reverse("loans:repayment_create", args=[settled.pk]) not in page
    page = client_as(world.cadre).get(reverse("loans:book_detail", args=[settled.pk])).content.decode()
    assert reverse("loans:change_renewal", args=[settled.pk]) not in page


def test_detail_lists_follow_up_applications(world, household, client_as, new_application):
    loan = make_loan(world, household)
    app = new_application()
    app.kind = LoanApplication.Kind.ADDITIONAL
    app.related_loan = loan
    app.save(update_fields=["kind", "related_loan"])
    link = reverse("loans:application_detail", args=[app.pk])
    page = reverse("loans:book_detail", args=[loan.pk])
    # A draft is the village's: its cadre gets the link, the bank does not (it could not open it).
    assert link in client_as(world.cadre).get(page).content.decode()
    assert link not in client_as(world.officer).get(page).content.decode()
    # Once the application has reached the bank, the officer is linked to it too.
    LoanApplication.objects.filter(pk=app.pk).update(state=State.BANK_ACCEPTANCE)
    assert link in client_as(world.officer).get(page).content.decode()


def test_list_tags_days_past_due_by_bucket(world, household, client_as):
    make_loan(world, household, days_past_due=10, state=Loan.State.OVERDUE)
    make_loan(world, household, days_past_due=200, state=Loan.State.OVERDUE)
    response = client_as(world.officer).get(reverse("loans:book_list"))
    tags = {loan.days_past_due: loan.dpd_tag for loan in response.context["page_obj"].object_list}
    assert tags == {10: "warn", 200: "bad severe"}
    html = response.content.decode()
    assert 'name="bucket"' in html and 'name="classification"' in html


def test_api_detail_constant_queries_with_recent_settlements_and_totals(world, household, api_as):
    one = make_loan(world, household)
    many = make_loan(world, household)
    add_settlements(one, world.officer, 1)
    add_settlements(many, world.officer, 30)
    client = api_as(world.officer)
    client.get(f"/api/v1/loans/{one.pk}/")
    a = count_queries(lambda: client.get(f"/api/v1/loans/{one.pk}/"))
    b = count_queries(lambda: client.get(f"/api/v1/loans/{many.pk}/"))
    assert a == b
    body = client.get(f"/api/v1/loans/{many.pk}/").json()
    assert body["settlement_totals"]["count"] == 30
    assert body["settlement_totals"]["interest_paid"] == "181.20"
    assert len(body["settlements"]) == 12
    assert body["settlements"][0]["period_start"] == "2000-01-30"  # newest first
    assert body["repayment_totals"] == {"count": 30, "principal": "30.00"}
    assert len(body["repayments"]) == 12
    assert body["imported"] is False


# ---------------------------------------------------------------------------------------------
# Import pages


def csv_upload(household, contract="PG-1"):
    data = (
        "户编号,借款合同编号,借据号,贷款金额,年利率(%),发放日期,到期日期,贷款余额,使用方式\n"
        f"{household.registration_no},{contract},{contract}-J,30000,4.35,2021-05-01,2023-05-01,30000,户借户用户还\n"
    )
    return SimpleUploadedFile("存量.csv", data.encode("utf-8-sig"), content_type="text/csv")


def test_import_page_preview_then_confirm(world, household, client_as, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    client = client_as(world.officer)
    assert client.get(reverse("loans:book_import")).status_code == 200
    template = client.get(reverse("loans:book_import_template"))
    assert template.status_code == 200 and template.content[:2] == b"PK"

    preview = client.post(reverse("loans:book_import"), {"file": csv_upload(household)})
    assert preview.status_code == 200
    token = preview.context["token"]
    assert token and Loan.objects.count() == 0
    assert (tmp_path / "loan-imports" / token).exists()

    done = client.post(reverse("loans:book_import_commit"), {"token": token})
    assert done.status_code == 302
    loan = Loan.objects.get()
    assert loan.imported and loan.contract_no == "PG-1"
    assert not (tmp_path / "loan-imports" / token).exists()
    # The token is spent: a second confirmation imports nothing.
    again = client.post(reverse("loans:book_import_commit"), {"token": token})
    assert again.status_code == 302 and Loan.objects.count() == 1


def test_import_page_with_errors_offers_no_confirmation(world, household, client_as, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    make_loan(world, household, contract_no="PG-1", receipt_no="X")
    response = client_as(world.officer).post(reverse("loans:book_import"), {"file": csv_upload(household)})
    assert response.status_code == 200
    assert response.context["token"] is None
    assert [e.code for e in response.context["errors"]] == ["duplicate"]
    assert Loan.objects.count() == 1


def test_import_pages_refuse_others(world, client_as):
    client = client_as(world.cadre)
    assert client.get(reverse("loans:book_import")).status_code == 403
    assert client.post(reverse("loans:book_import_commit"), {"token": "x"}).status_code == 403


def test_book_pages_link_to_the_servicing_pages_for_officers(world, client_as, new_application, drive):
    from loans.workflow import State

    app = drive(new_application(), State.DISBURSED)
    html = client_as(world.officer).get(f"/loans/book/{app.loan.pk}/").content.decode()
    assert f"/loans/servicing/{app.loan.pk}/repayments/new/" in html
    assert f"/loans/servicing/{app.loan.pk}/settlements/new/" in html
    listing = client_as(world.officer).get("/loans/book/").content.decode()
    assert "/loans/servicing/settlements/import/" in listing and "/loans/servicing/overdue/" in listing
    html = client_as(world.cadre).get(f"/loans/book/{app.loan.pk}/").content.decode()
    assert "/repayments/new/" not in html
