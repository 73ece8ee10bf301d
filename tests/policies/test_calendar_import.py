"""Loading a year of the working-day calendar from a file laid out like the State Council's notice
(日期, 类型, 名称; one row per day): the file is bounded before it is parsed, every row is checked
with its row number and column, the preview shows the year as it will be stored, and the year
goes in through `calendar_year_define` (its validation and its audit record)."""

import csv
import datetime
import io
import itertools
import time
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.exceptions import NotPermitted
from core.models import AuditEvent
from policies import calendar_files, services
from policies.models import CalendarDay, CalendarYear

from .conftest import HOLIDAYS_2027, WORKDAYS_2027, d

pytestmark = pytest.mark.django_db

API = "/api/v1/calendar-imports/"
NOTICE = "国务院办公厅关于2027年部分节假日安排的通知"

# A 2027 in the notice's shape, one row per day. 2027-01-01 is a Friday, so 02-06 is a Saturday,
# 02-14 a Sunday, 02-20 a Saturday, 10-01 a Friday and 10-09 a Saturday.
GOOD_ROWS = [
    ("2027-01-01", "休息", "元旦"),
    ("2027-01-02", "休息", "元旦"),
    ("2027-01-03", "休息", "元旦"),
    *[(f"2027-02-{day:02d}", "放假", "春节") for day in range(6, 13)],
    ("2027-02-14", "上班", "春节"),
    ("2027-02-20", "调休上班", "春节"),
    *[(f"2027-10-{day:02d}", "休息", "国庆节") for day in range(1, 8)],
    ("2027-10-09", "上班", "国庆节"),
]
# 2027 has 365 days from a Friday: 52 whole weeks (260 weekdays, 104 weekend days) and one more
# Friday, so 261 weekdays and 104 weekend days. Holidays on weekdays: 元旦 01-01 (1), 春节 02-08..12
# (5), 国庆节 10-01 and 10-04..07 (5) = 11. Worked weekend days: 02-14, 02-20, 10-09 = 3.
# Working days 261 - 11 + 3 = 253; rest days 365 - 253 = 112.
GOOD_WORKING_DAYS = 253
GOOD_REST_DAYS = 112


def csv_bytes(rows, *, header=("日期", "类型", "名称"), encoding="utf-8-sig") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows, *, header=("日期", "类型", "名称")) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def upload(data: bytes, name="2027.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data)


def check(user, data, *, name="2027.csv", year=2027, replace=False):
    return services.calendar_import_check(
        acting_user=user, file=upload(data, name), filename=name, year=year, source=NOTICE, replace=replace
    )


def errors_of(result):
    return {(e.code, e.row, e.column) for e in result.errors}


def assert_nothing_stored():
    assert not CalendarYear.objects.filter(year=2027).exists()
    assert not CalendarDay.objects.filter(date__year=2027).exists()
    assert not AuditEvent.objects.filter(object_type="policies.calendaryear").exists()


def assert_good_2027_stored():
    days = dict(CalendarDay.objects.filter(year_id=2027).values_list("date", "is_working_day"))
    assert len(days) == 365
    for day in range(6, 13):
        stored = CalendarDay.objects.get(date=datetime.date(2027, 2, day))
        assert (stored.is_working_day, stored.note) == (False, "春节")
    assert days[d("2027-02-13")] is False  # a Saturday after the holiday, not listed: it rests
    assert days[d("2027-02-14")] is True  # the adjusted working Sunday
    assert CalendarDay.objects.get(date=d("2027-02-14")).note == "春节"
    assert days[d("2027-02-15")] is True  # a plain Monday
    assert days[d("2027-10-09")] is True
    assert days[d("2027-10-10")] is False  # a plain Sunday
    assert sum(days.values()) == GOOD_WORKING_DAYS
    assert services.add_working_days(d("2026-12-28"), 5) == d("2027-01-04")


# ---- good files --------------------------------------------------------------------------------


def test_a_good_csv_is_stored_through_calendar_year_define_and_audited(world):
    result = services.calendar_year_import(
        acting_user=world.admin,
        file=upload(csv_bytes(GOOD_ROWS)),
        filename="2027节假日.csv",
        year=2027,
        source=NOTICE,
    )
    assert result.file_type == "csv"
    assert result.holidays == [
        (d("2027-01-01"), d("2027-01-03"), "元旦"),
        (d("2027-02-06"), d("2027-02-12"), "春节"),
        (d("2027-10-01"), d("2027-10-07"), "国庆节"),
    ]
    assert result.workdays == [
        (d("2027-02-14"), "春节"),
        (d("2027-02-20"), "春节"),
        (d("2027-10-09"), "国庆节"),
    ]
    assert (result.working_days, result.rest_days) == (GOOD_WORKING_DAYS, GOOD_REST_DAYS)
    assert_good_2027_stored()
    year = CalendarYear.objects.get(year=2027)
    assert (year.source, year.loaded_by) == (NOTICE, world.admin)
    event = AuditEvent.objects.get(action="calendar_year.define", object_id="2027")
    assert event.actor == world.admin
    assert event.reason == NOTICE
    assert event.data["file"] == "2027节假日.csv"
    assert ["2027-02-06", "2027-02-12", "春节"] in event.data["holidays"]
    assert ["2027-02-14", "春节"] in event.data["workdays"]


def test_a_good_xlsx_with_date_cells_goes_through_preview_and_confirm(world, client_as):
    # Excel gives real date cells; a text date in the notice's own writing is read too.
    rows = [(datetime.datetime.fromisoformat(day), kind, name) for day, kind, name in GOOD_ROWS]
    rows[10] = ("2027年2月14日", "上班", "春节")
    client = client_as(world.admin)
    r = client.post(
        reverse("policies:calendar_import"),
        {"year": "2027", "source": NOTICE, "file": upload(xlsx_bytes(rows), "节假日.xlsx")},
    )
    assert r.status_code == 200
    result = r.context["result"]
    assert result.ok, result.errors
    assert result.file_type == "xlsx"
    assert r.context["token"]
    html = r.content.decode()
    assert 'id="preview-holidays"' in html and "2027-02-12" in html
    assert html.count('class="tag ok"') == len(GOOD_ROWS)
    assert not CalendarYear.objects.filter(year=2027).exists()  # the preview writes nothing

    r = client.post(reverse("policies:calendar_import_confirm"), {"token": r.context["token"]})
    assert r.status_code == 302
    assert r.url == reverse("policies:calendar") + "?year=2027#special-days"
    assert_good_2027_stored()
    assert (
        AuditEvent.objects.get(action="calendar_year.define", object_id="2027").data["file"] == "节假日.xlsx"
    )
    # The staged file is used once: confirming again finds nothing waiting.
    r = client.post(reverse("policies:calendar_import_confirm"), {"token": "0" * 32})
    assert r.status_code == 302
    assert r.url == reverse("policies:calendar_import")


def test_a_gbk_csv_with_english_types_and_a_title_row_is_read(world):
    # Excel on Chinese Windows saves CSV in GBK; the notice's title may sit above the header.
    english = {"休息": "holiday", "放假": "Holiday", "上班": "workday", "调休上班": "WORKDAY"}
    rows = [(day, english[kind], name) for day, kind, name in GOOD_ROWS]
    data = "国务院办公厅关于2027年部分节假日安排的通知\r\n".encode("gb18030") + csv_bytes(
        rows, header=("日期", "类型", "名称"), encoding="gb18030"
    )
    result = check(world.admin, data)
    assert result.ok, result.errors
    assert result.rows[0].number == 3
    assert (result.working_days, result.rest_days) == (GOOD_WORKING_DAYS, GOOD_REST_DAYS)


def test_the_template_downloads_and_imports_as_it_is(world, client_as):
    r = client_as(world.admin).get(reverse("policies:calendar_import_template"))
    assert r.status_code == 200
    assert r["Content-Type"].startswith("text/csv")
    data = r.content
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM, for Excel
    lines = data.decode("utf-8-sig").splitlines()
    # 2027 is the first year the calendar lacks on 2026-06-17; 2027-09-26 is the Sunday before
    # Friday 10-01.
    assert lines == ["日期,类型,名称", "2027-10-01,休息,国庆节", "2027-09-26,上班,国庆节"]
    result = check(world.admin, data)
    assert result.ok, result.errors


# ---- rows with errors: each names its row, its column and its code ---------------------------


@pytest.mark.parametrize(
    ("bad_row", "code", "column"),
    [
        (("2027-02-30", "休息", "春节"), "invalid_date", "日期"),
        (("下周一", "休息", "春节"), "invalid_date", "日期"),
        (("2026-10-01", "休息", "国庆节"), "wrong_year", "日期"),
        (("2027-02-13", "调休", "春节"), "invalid_type", "类型"),
        (("2027-02-13", "", "春节"), "required", "类型"),
        (("", "休息", "春节"), "required", "日期"),
        (("2027-02-15", "上班", "春节"), "workday_not_weekend", "类型"),  # a Monday
        (("2027-10-01", "休息", ""), "name_required", "名称"),
        (("2027-10-01", "休息", "国" * 51), "name_too_long", "名称"),
    ],
)
def test_a_bad_row_is_reported_with_its_row_column_and_code(world, bad_row, code, column):
    rows = [("2027-01-01", "休息", "元旦"), bad_row, ("2027-05-01", "休息", "劳动节")]
    result = check(world.admin, csv_bytes(rows))
    # The header is row 1, so the bad row is row 3.
    assert errors_of(result) == {(code, 3, column)}
    assert not result.ok
    with pytest.raises(calendar_files.CalendarImportRejected) as caught:
        services.calendar_year_import(
            acting_user=world.admin, file=upload(csv_bytes(rows)), filename="f.csv", year=2027, source=NOTICE
        )
    assert caught.value.code == "invalid"
    assert {"row": 3, "column": column, "code": code} == {
        k: v for k, v in caught.value.extra["rows"][0].items() if k != "message"
    }
    assert_nothing_stored()


def test_two_holidays_on_one_day_overlap(world):
    rows = [
        ("2027-10-04", "休息", "国庆节"),
        ("2027-10-05", "休息", "国庆节"),
        ("2027-10-05", "休息", "中秋节"),
        ("2027-10-04", "休息", "国庆节"),
        ("2027-10-09", "上班", "国庆节"),
        ("2027-10-09", "休息", "国庆节"),
    ]
    result = check(world.admin, csv_bytes(rows))
    assert errors_of(result) == {
        ("holiday_overlap", 4, "日期"),  # 10-05 is 国庆节 on row 3
        ("duplicate_date", 5, "日期"),  # 10-04 again, same holiday
        ("duplicate_date", 7, "日期"),  # Saturday 10-09 both worked and rested
    }
    assert "3" in result.errors[0].message and "国庆节" in result.errors[0].message


def test_every_row_error_is_listed_at_once_and_shown_on_the_preview(world, client_as):
    rows = [("2027-02-30", "休息", "春节"), ("2026-10-01", "休息", "国庆节"), ("2027-10-01", "休息", "")]
    r = client_as(world.admin).post(
        reverse("policies:calendar_import"),
        {"year": "2027", "source": NOTICE, "file": upload(csv_bytes(rows))},
    )
    assert r.status_code == 200
    assert r.context["token"] is None
    assert [(e.row, e.code) for e in r.context["result"].errors] == [
        (2, "invalid_date"),
        (3, "wrong_year"),
        (4, "name_required"),
    ]
    html = r.content.decode()
    assert html.count('class="tag bad">') >= 3
    assert "2026-10-01" in html
    assert not CalendarYear.objects.filter(year=2027).exists()


def test_only_worked_days_is_not_a_year(world):
    result = check(world.admin, csv_bytes([("2027-02-14", "上班", "春节")]))
    assert errors_of(result) == {("no_holidays", None, "")}


def test_a_header_only_file_is_empty(world):
    result = check(world.admin, csv_bytes([]) + b"\r\n,,\r\n")
    assert errors_of(result) == {("empty", None, "")}


@pytest.mark.parametrize(
    ("header", "code"),
    [(("date", "name", "备注"), "missing_header"), (("日期", "类型", "备注"), "missing_column")],
)
def test_a_file_without_the_columns_is_refused(world, header, code):
    result = check(world.admin, csv_bytes([("2027-10-01", "休息", "国庆节")], header=header))
    assert errors_of(result) == {(code, None, "")}


# ---- files refused before they are parsed ------------------------------------------------------


def test_a_file_over_one_megabyte_is_refused_unread(world):
    data = csv_bytes(GOOD_ROWS) + b"," * (calendar_files.MAX_FILE_SIZE)
    result = check(world.admin, data)
    assert errors_of(result) == {("file_too_large", None, "")}
    assert result.rows == []


def test_a_header_and_a_million_blank_rows_is_refused_at_the_row_cap(world):
    # 1,000,000 newlines stay under the 1 MB limit, so it is the row cap that refuses it.
    data = "日期,类型,名称\n".encode() + b"\n" * 1_000_000
    assert len(data) <= calendar_files.MAX_FILE_SIZE
    started = time.monotonic()
    result = check(world.admin, data)
    elapsed = time.monotonic() - started
    assert errors_of(result) == {("too_many_rows", None, "")}
    assert result.rows == []
    # Refused at the 401st row after the header (the next test proves reading stops there).
    assert elapsed < 5


def test_reading_stops_at_the_row_cap_even_when_rows_never_end():
    # An endless supply of blank rows: a reader that did not stop at the cap would never return.
    rows = itertools.chain([("日期", "类型", "名称")], itertools.repeat(()))
    with pytest.raises(calendar_files.FileRefused) as caught:
        calendar_files._bounded_rows(rows)
    assert caught.value.code == "too_many_rows"


def test_an_xlsx_declaring_a_million_rows_is_refused_at_the_row_cap(world):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["日期", "类型", "名称"])
    sheet.cell(row=1_000_000, column=1, value="2027-10-01")
    out = io.BytesIO()
    workbook.save(out)
    started = time.monotonic()
    result = check(world.admin, out.getvalue(), name="big.xlsx")
    assert errors_of(result) == {("too_many_rows", None, "")}
    assert time.monotonic() - started < 5


def test_rows_up_to_the_cap_are_read_blank_ones_included(world):
    # 399 blank rows and one good one: 400 rows after the header, the most a file may have.
    data = csv_bytes([]) + b"\r\n" * 399 + "2027-10-01,休息,国庆节\r\n".encode()
    result = check(world.admin, data)
    assert result.ok, result.errors
    assert result.rows[0].number == 401


def test_an_xlsx_whose_declared_uncompressed_size_is_huge_is_never_opened(world, monkeypatch):
    # The sheet padded with 50 MB of spaces (legal after the root element) compresses to ~50 KB.
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(GOOD_ROWS)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                data += b" " * (50 * 1024 * 1024)
            bomb.writestr(member.filename, data)
    data = out.getvalue()
    assert len(data) < calendar_files.MAX_FILE_SIZE

    def never(*args, **kwargs):
        raise AssertionError("openpyxl opened a workbook that declares 50 MB")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    result = check(world.admin, data, name="bomb.xlsx")
    assert errors_of(result) == {("xlsx_too_large", None, "")}


def _zip_without_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        # A Windows executable renamed .csv: "MZ", then NUL bytes.
        ("notice.csv", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64),
        # A PNG renamed .xlsx and .csv.
        ("notice.xlsx", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06"),
        ("notice.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06"),
        # A Word document (a ZIP, but no workbook) renamed .xlsx.
        ("notice.xlsx", _zip_without_workbook()),
        # An old .xls (OLE compound file).
        ("notice.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504),
        # A ZIP signature with nothing behind it.
        ("notice.xlsx", b"PK\x03\x04garbage"),
        ("empty.csv", b""),
    ],
)
def test_a_file_that_is_not_csv_or_xlsx_is_refused_whatever_its_name(world, name, data):
    result = check(world.admin, data, name=name)
    # One code and one message for every unreadable file, in every import (core/tabular.py).
    assert errors_of(result) == {("bad_file", None, "")}


def test_a_csv_named_xlsx_is_read_as_csv(world):
    result = check(world.admin, csv_bytes(GOOD_ROWS), name="2027.xlsx")
    assert result.ok and result.file_type == "csv"


# ---- replacing, permissions --------------------------------------------------------------------


def test_a_stored_year_is_replaced_only_when_asked(world):
    services.calendar_year_define(
        acting_user=world.admin, year=2027, holidays=HOLIDAYS_2027, workdays=WORKDAYS_2027, source="第一版"
    )
    result = check(world.admin, csv_bytes(GOOD_ROWS))
    assert errors_of(result) == {("calendar_year_exists", None, "")}
    assert result.existing.source == "第一版"
    with pytest.raises(calendar_files.CalendarImportRejected) as caught:
        services.calendar_year_import(
            acting_user=world.admin,
            file=upload(csv_bytes(GOOD_ROWS)),
            filename="f.csv",
            year=2027,
            source=NOTICE,
        )
    assert caught.value.code == "calendar_year_exists"
    assert CalendarYear.objects.get(year=2027).source == "第一版"

    services.calendar_year_import(
        acting_user=world.admin,
        file=upload(csv_bytes(GOOD_ROWS)),
        filename="更正.csv",
        year=2027,
        source=NOTICE,
        replace=True,
    )
    assert_good_2027_stored()
    event = AuditEvent.objects.get(action="calendar_year.replace", object_id="2027")
    assert (event.data["previous_source"], event.data["file"]) == ("第一版", "更正.csv")


def test_a_year_stored_between_preview_and_confirm_is_a_409_and_nothing_changes(world, client_as):
    client = client_as(world.admin)
    r = client.post(
        reverse("policies:calendar_import"),
        {"year": "2027", "source": NOTICE, "file": upload(csv_bytes(GOOD_ROWS))},
    )
    token = r.context["token"]
    services.calendar_year_define(
        acting_user=world.admin, year=2027, holidays=HOLIDAYS_2027, workdays=WORKDAYS_2027, source="别人"
    )
    r = client.post(reverse("policies:calendar_import_confirm"), {"token": token})
    assert r.status_code == 409
    assert r.context["rejected"] is True
    assert CalendarYear.objects.get(year=2027).source == "别人"


def test_only_admins_import(world):
    with pytest.raises(NotPermitted) as caught:
        check(world.county_office, csv_bytes(GOOD_ROWS))
    assert caught.value.code == "permission_denied"
    assert_nothing_stored()


@pytest.mark.parametrize("who", ["cadre", "county_office", "officer", "finance"])
def test_import_pages_and_api_are_403_for_other_roles(world, client_as, api_as, who):
    user = getattr(world, who)
    client = client_as(user)
    for name in ["policies:calendar_import", "policies:calendar_import_template"]:
        assert client.get(reverse(name)).status_code == 403
    r = client.post(
        reverse("policies:calendar_import"),
        {"year": "2027", "source": NOTICE, "file": upload(csv_bytes(GOOD_ROWS))},
    )
    assert r.status_code == 403
    assert client.post(reverse("policies:calendar_import_confirm"), {"token": "x"}).status_code == 403
    r = api_as(user).post(
        API, {"year": 2027, "source": NOTICE, "file": upload(csv_bytes(GOOD_ROWS))}, format="multipart"
    )
    assert r.status_code == 403
    assert r.json()["code"] == "permission_denied"
    assert_nothing_stored()


def test_anonymous_users_go_to_the_login_page(client):
    r = client.get(reverse("policies:calendar_import"))
    assert r.status_code == 302
    assert reverse("accounts:login") in r.url


def test_the_upload_form_needs_year_source_and_file(world, client_as):
    r = client_as(world.admin).post(reverse("policies:calendar_import"), {"year": "1800"})
    assert r.status_code == 400
    assert {"year", "source", "file"} <= set(r.context["form"].errors)


def test_the_calendar_page_offers_the_import(world, client_as):
    r = client_as(world.admin).get(reverse("policies:calendar"))
    html = r.content.decode()
    assert 'id="import-year"' in html
    assert reverse("policies:calendar_import_template") in html
    assert r.context["import_form"].initial["year"] == 2027


# ---- the API -----------------------------------------------------------------------------------


def test_api_dry_run_then_import(world, api_as):
    api = api_as(world.admin)
    payload = {"year": 2027, "source": NOTICE}
    r = api.post(
        API + "?dry_run=1", {**payload, "file": upload(xlsx_bytes(GOOD_ROWS), "a.xlsx")}, format="multipart"
    )
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["dry_run"] is True
    assert body["file_type"] == "xlsx"
    assert body["holidays"][1] == {"start": "2027-02-06", "end": "2027-02-12", "name": "春节", "days": 7}
    assert body["workdays"][0] == {"date": "2027-02-14", "name": "春节"}
    assert (body["working_days"], body["rest_days"], body["replaces"]) == (
        GOOD_WORKING_DAYS,
        GOOD_REST_DAYS,
        False,
    )
    assert not CalendarYear.objects.filter(year=2027).exists()

    r = api.post(API, {**payload, "file": upload(csv_bytes(GOOD_ROWS))}, format="multipart")
    assert r.status_code == 201, r.json()
    assert r.json()["dry_run"] is False
    assert_good_2027_stored()

    r = api.post(API, {**payload, "file": upload(csv_bytes(GOOD_ROWS))}, format="multipart")
    assert r.status_code == 400
    assert r.json()["code"] == "calendar_year_exists"
    r = api.post(
        API, {**payload, "replace": "true", "file": upload(csv_bytes(GOOD_ROWS))}, format="multipart"
    )
    assert r.status_code == 201
    assert r.json()["replaces"] is True


def test_api_row_errors_and_file_refusals(world, api_as):
    api = api_as(world.admin)
    rows = [("2027-10-01", "休息", "国庆节"), ("2027-02-15", "上班", "春节")]
    r = api.post(API, {"year": 2027, "source": NOTICE, "file": upload(csv_bytes(rows))}, format="multipart")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "invalid"
    assert [(e["row"], e["column"], e["code"]) for e in body["extra"]["rows"]] == [
        (3, "类型", "workday_not_weekend")
    ]

    data = "日期,类型,名称\n".encode() + b"\n" * 1_000_000
    r = api.post(API, {"year": 2027, "source": NOTICE, "file": upload(data)}, format="multipart")
    assert r.status_code == 400
    assert r.json()["code"] == "too_many_rows"

    r = api.post(API, {"year": 2027, "file": upload(b"MZ\x00\x00")}, format="multipart")
    assert r.status_code == 400
    assert set(r.json()["extra"]["fields"]) == {"source"}
    assert_nothing_stored()
