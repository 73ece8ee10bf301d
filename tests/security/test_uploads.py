"""Photo uploads (#10, ASVS V5; PIPL art. 28): post-loan check photos and pre-loan investigation
photos, on the pages and through the API, are at most 10 MB, only JPEG or PNG judged by their
content (not their name), at most ten at once, and are stored re-encoded, so the GPS position a
phone writes into a photo of a borrower's home is not kept. Nothing in the system reads a
photo's capture date, so none is read before the metadata goes (core/uploads.py)."""

import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import ExifTags, Image, PngImagePlugin

from core import uploads
from loans.models import CheckPhoto, InvestigationPhoto, PostLoanCheck
from loans.services import checks
from loans.workflow import State
from tests.loans.conftest import calendar_ahead, drive, household, new_application  # noqa: F401
from tests.loans.test_settlements import make_loan

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
GPS = ExifTags.Base.GPSInfo
# 五通镇, Guilin: where a phone would put the borrower's house.
WHERE = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (25.0, 17.0, 30.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (110.0, 18.0, 0.0),
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def loan(world, household):  # noqa: F811
    return make_loan(
        household, world, disbursed_on=datetime.date(2025, 8, 31), maturity_on=datetime.date(2027, 8, 31)
    )


@pytest.fixture
def check(loan):
    checks.check_schedule_ensure(on_date=timezone.localdate())
    return PostLoanCheck.objects.get(loan=loan, done_on__isnull=True)


def image_bytes(kind: str, size=(40, 20), **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (40, 160, 60)).save(out, format=kind, **save)
    return out.getvalue()


def gps_jpeg(*, orientation: int = 1) -> bytes:
    """A phone photo: EXIF with the camera, the orientation and the GPS position."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Phone"
    exif[ExifTags.Base.Orientation] = orientation
    exif[GPS] = WHERE
    data = image_bytes("JPEG", exif=exif.tobytes())
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS)  # the upload does carry it
    return data


def upload(data: bytes, name: str) -> SimpleUploadedFile:
    # The type the browser claims is whatever the attacker says; it decides nothing.
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def eleven_mb_jpeg() -> bytes:
    # A real JPEG, padded after its end marker (decoders ignore the rest) to 11 MB.
    data = image_bytes("JPEG")
    return data + b"\0" * (11 * MB - len(data))


# Formats Pillow reads happily but we do not take, each named .jpg.
OTHER_FORMATS = {
    "GIF": lambda: image_bytes("GIF"),
    "WEBP": lambda: image_bytes("WEBP"),
    "BMP": lambda: image_bytes("BMP"),
    "TIFF": lambda: image_bytes("TIFF"),
}


def stored(photo) -> Image.Image:
    with photo.image.open("rb") as handle:
        image = Image.open(io.BytesIO(handle.read()))
        image.load()
        return image


def record_api(api, check, photos):
    data = {
        "done_on": timezone.localdate().isoformat(),
        "funds_as_agreed": True,
        "findings": "资金按约定用途使用",
        "classification": "normal",
        "photos": photos,
    }
    return api.post(f"/api/v1/checks/{check.pk}/record/", data, format="multipart")


def field_errors(body: dict, field: str) -> str:
    """Every message under `extra.fields.<field>`, however deep (a list's items are keyed by index)."""

    def flat(value):
        if isinstance(value, dict):
            return [m for v in value.values() for m in flat(v)]
        return [str(m) for m in value] if isinstance(value, list) else [str(value)]

    return " ".join(flat(body["extra"]["fields"].get(field, {})))


# ---- the size -------------------------------------------------------------------------------------


def test_an_11_mb_check_photo_is_refused_through_the_api(world, check, api_as):
    response = record_api(api_as(world.officer), check, [upload(eleven_mb_jpeg(), "field.jpg")])
    assert response.status_code == 400
    assert "照片“field.jpg”超过 10 MB" in field_errors(response.json(), "photos")
    check.refresh_from_db()
    assert check.done_on is None and not CheckPhoto.objects.exists()


def test_an_11_mb_investigation_photo_is_refused_on_the_page(world, client_as, new_application, drive):  # noqa: F811
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    response = client_as(world.officer).post(
        reverse("loans:application_accept", args=[app.pk]),
        {
            "investigated_on": timezone.localdate().isoformat(),
            "findings": "入户查看牛棚",
            "photos": [upload(eleven_mb_jpeg(), "barn.jpg")],
        },
    )
    assert response.status_code == 400
    assert "照片“barn.jpg”超过 10 MB" in " ".join(response.context["form"].errors["photos"])
    app.refresh_from_db()
    assert app.state == State.BANK_ACCEPTANCE and not InvestigationPhoto.objects.exists()


# ---- the format, by content ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", OTHER_FORMATS)
def test_other_formats_named_jpg_are_refused_through_the_api(world, check, api_as, kind):
    response = record_api(api_as(world.officer), check, [upload(OTHER_FORMATS[kind](), "field.jpg")])
    assert response.status_code == 400
    assert f"“field.jpg”是 {kind} 文件；只接受 JPEG 和 PNG 照片" in field_errors(response.json(), "photos")
    assert not CheckPhoto.objects.exists()


@pytest.mark.parametrize("kind", OTHER_FORMATS)
def test_other_formats_are_refused_on_the_check_page(world, check, client_as, kind):
    response = client_as(world.officer).post(
        reverse("loans:check_record", args=[check.pk]),
        {
            "done_on": timezone.localdate().isoformat(),
            "funds_as_agreed": "yes",
            "findings": "资金按约定用途使用",
            "classification": "normal",
            "photos": [upload(OTHER_FORMATS[kind](), "field.png")],
        },
    )
    assert response.status_code == 400
    assert "只接受 JPEG 和 PNG 照片" in " ".join(response.context["form"].errors["photos"])
    assert not CheckPhoto.objects.exists()


@pytest.mark.parametrize("kind", OTHER_FORMATS)
def test_other_formats_are_refused_as_investigation_photos_through_the_api(
    world,
    api_as,
    new_application,  # noqa: F811
    drive,  # noqa: F811
    kind,
):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    url = f"/api/v1/applications/{app.pk}/photos/"
    response = api_as(world.officer).post(
        url, {"image": upload(OTHER_FORMATS[kind](), "barn.jpg")}, format="multipart"
    )
    assert response.status_code == 400
    assert "只接受 JPEG 和 PNG 照片" in field_errors(response.json(), "image")
    assert not InvestigationPhoto.objects.exists()


def test_the_service_refuses_what_the_edge_would_too(world, check):
    # Defence in depth: a caller that skips the form or serializer meets the same rule.
    with pytest.raises(uploads.PhotoRefused) as caught:
        checks.check_record(
            acting_user=world.officer,
            check=check,
            done_on=timezone.localdate(),
            funds_as_agreed=True,
            findings="资金按约定用途使用",
            classification=check.loan.classification,
            photos=[upload(image_bytes("WEBP"), "x.jpg")],
        )
    assert caught.value.code == "photo_format"
    check.refresh_from_db()
    assert check.done_on is None


def test_more_than_ten_photos_at_once_are_refused(world, check, api_as):
    photos = [upload(image_bytes("PNG"), f"p{n}.png") for n in range(uploads.PHOTO_MAX_COUNT + 1)]
    response = record_api(api_as(world.officer), check, photos)
    assert response.status_code == 400
    assert not CheckPhoto.objects.exists()


def test_a_file_that_is_no_image_at_all_is_refused(world, check, api_as):
    response = record_api(api_as(world.officer), check, [upload(b"MZ\x90\x00" + b"\x00" * 100, "x.jpg")])
    assert response.status_code == 400
    assert "不是可读取的照片" in field_errors(response.json(), "photos")


# ---- metadata: stored re-encoded, without GPS ---------------------------------------------------------


def test_a_check_photo_is_stored_without_gps_through_the_api(world, check, api_as):
    response = record_api(api_as(world.officer), check, [upload(gps_jpeg(), "home.jpg")])
    assert response.status_code == 200, response.json()
    image = stored(CheckPhoto.objects.get())
    assert image.format == "JPEG"
    assert not image.getexif().get_ifd(GPS)
    assert len(image.getexif()) == 0  # no EXIF at all: no camera, no time, no place
    assert image.size == (40, 20)


def test_an_investigation_photo_is_stored_without_gps_through_the_page_and_upright(
    world,
    client_as,
    new_application,  # noqa: F811
    drive,  # noqa: F811
):
    app = drive(new_application(), State.BANK_ACCEPTANCE)
    response = client_as(world.officer).post(
        reverse("loans:application_accept", args=[app.pk]),
        {
            "investigated_on": timezone.localdate().isoformat(),
            "findings": "入户查看牛棚",
            # Orientation 6: the phone was held upright, the pixels are stored sideways.
            "photos": [upload(gps_jpeg(orientation=6), "barn.jpg")],
        },
    )
    assert response.status_code == 302
    photo = InvestigationPhoto.objects.get()
    image = stored(photo)
    assert not image.getexif().get_ifd(GPS) and len(image.getexif()) == 0
    # The orientation went with the EXIF block, so it was applied to the pixels first.
    assert image.size == (20, 40)
    assert photo.image.name.endswith(".jpg")


def test_a_png_keeps_no_text_or_exif_chunks(world, check, api_as):
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "户主家 GPS 25.29N 110.30E")
    exif = Image.Exif()
    exif[GPS] = WHERE
    data = image_bytes("PNG", pnginfo=info, exif=exif.tobytes())
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS)
    response = record_api(api_as(world.officer), check, [upload(data, "note.png")])
    assert response.status_code == 200, response.json()
    image = stored(CheckPhoto.objects.get())
    assert image.format == "PNG"
    assert "Comment" not in image.info and not image.getexif().get_ifd(GPS)


def test_a_png_named_jpg_is_stored_as_png(world, check, api_as):
    # The stored name follows the content, so the photo is served with the right type.
    response = record_api(api_as(world.officer), check, [upload(image_bytes("PNG"), "field.jpg")])
    assert response.status_code == 200, response.json()
    photo = CheckPhoto.objects.get()
    assert photo.image.name.endswith(".png") and stored(photo).format == "PNG"


def test_the_check_page_states_the_limits_and_asks_for_jpeg_or_png(world, check, client_as):
    html = client_as(world.officer).get(reverse("loans:check_record", args=[check.pk])).content.decode()
    assert "每张不超过 10 MB" in html and 'accept="image/jpeg,image/png"' in html
