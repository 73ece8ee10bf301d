"""The limits on what people upload, in one place: the spreadsheets the imports read
(core/tabular.py applies these before anything is parsed) and the photos of investigations and
post-loan checks.

Photos are checked by their content, not their name (anything can be renamed .jpg): Pillow reads
the header, and only JPEG and PNG pass. What is stored is not the upload but a re-encoding of its
pixels, so nothing else the file carried survives, above all the EXIF block with the GPS position
of a borrower's home (PIPL art. 28). The system never reads a photo's capture date; should it ever
need it, read it in `photo_for_storage` before the re-encoding drops it.

An import's file waits on the server between its preview and its confirmation: `Staging` keeps
it under a name made only from a token the server drew, remembers it in the session, and deletes
it after the one confirmation, when a new upload replaces it, or when it is older than a day."""

from __future__ import annotations

import datetime
import io
import re
import uuid
from dataclasses import dataclass
from pathlib import PurePath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import Image, ImageOps, UnidentifiedImageError
from rest_framework import serializers

from .exceptions import ApplicationError

MB = 1024 * 1024

# ---- spreadsheets --------------------------------------------------------------------------------

# A 5,000-row household roster is about 0.3 MB as .xlsx and 1 MB as CSV; 10 MB leaves room for
# the largest list a bank exports (20,000 settlement rows) without letting a file fill memory.
IMPORT_MAX_BYTES = 10 * MB
# What an .xlsx's ZIP members declare they unpack to, in total. The 5,000-row roster unpacks to
# about 4 MB; ten times that is refused before openpyxl opens the file, so a few hundred KB cannot
# be made to unpack into hundreds of MB (a 200 MB shared string compresses to 200 KB).
IMPORT_MAX_UNCOMPRESSED = 40 * MB
# Spreadsheet XML compresses 5 to 20 times; a member that claims more than this, and is large
# enough to matter, is a compression bomb (a million blank rows compress about 200 times).
IMPORT_MAX_RATIO = 100
IMPORT_RATIO_FROM = 1 * MB
# Columns beyond this are not read (every import needs at most 15).
IMPORT_MAX_COLUMNS = 200
# The longest text any column takes is an address or a name of an enterprise (200 characters);
# a cell five times as long is not data we take.
IMPORT_MAX_CELL_CHARS = 1000

# ---- staging: an import's file between its preview and its confirmation ----------------------------

# A preview that is never confirmed leaves its file (personal data) behind; files older than this
# are removed when the next file is staged in the same folder, so they do not pile up on the server.
STAGED_LIFETIME = datetime.timedelta(hours=24)
# The only endings a staged file's name can have: the importers tell CSV from XLSX by it.
STAGED_SUFFIXES = ("", ".csv", ".xlsx")
_TOKEN = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Staging:
    """Where one import keeps an upload that passed its preview until the user confirms it: the
    file `<folder>/<prefix><token><suffix>` in the default storage, and `{"token", "suffix",
    **info}` under `session_key` in the user's session. The confirmation form sends the token back;
    `pending` gives the session's entry only when that token is the one the session holds.

    A file's name comes only from the server's own token (32 hex digits, checked every time it is
    used) and a fixed suffix, never from anything the browser sends, so no name can leave the
    folder. One confirmation per upload: `discard` after it, whatever its outcome."""

    session_key: str
    folder: str
    prefix: str = ""

    def name(self, token: str, suffix: str = "") -> str:
        """The staged file's name in the storage; ValueError for a token or suffix we never make."""
        if not isinstance(token, str) or not _TOKEN.fullmatch(token) or suffix not in STAGED_SUFFIXES:
            raise ValueError("not a staging token")
        return f"{self.folder}/{self.prefix}{token}{suffix}"

    def stage(self, session, file, *, suffix: str = "", **info) -> str:
        """Keeps `file` (an upload, or bytes) until confirmed and returns its token. Whatever
        waited in this session before is discarded, and stale files of the folder swept."""
        self.discard(session)
        self.sweep_stale()
        token = uuid.uuid4().hex
        if isinstance(file, bytes):
            file = ContentFile(file)
        else:
            file.seek(0)
        default_storage.save(self.name(token, suffix), file)
        session[self.session_key] = {"token": token, "suffix": suffix, **info}
        return token

    def pending(self, session, token) -> dict | None:
        """The session's entry for the file waiting under `token` (as the confirmation form sent
        it back), or None: nothing waits, the token is another, or the file is gone."""
        entry = session.get(self.session_key) or {}
        staged = entry.get("token")
        if not staged or token != staged:
            return None
        try:
            name = self.name(staged, entry.get("suffix", ""))
        except ValueError:
            return None
        return entry if default_storage.exists(name) else None

    def open(self, entry: dict):
        """The staged file of a `pending` entry, opened for reading (FileNotFoundError if it has
        gone meanwhile)."""
        return default_storage.open(self.name(entry["token"], entry.get("suffix", "")), "rb")

    def discard(self, session) -> None:
        """Forgets what waits in this session and deletes its file."""
        entry = session.pop(self.session_key, None) or {}
        try:
            name = self.name(entry.get("token"), entry.get("suffix", ""))
        except ValueError:
            return
        default_storage.delete(name)

    def sweep_stale(self) -> None:
        """Deletes the folder's files older than STAGED_LIFETIME (every import staging there)."""
        try:
            _dirs, files = default_storage.listdir(self.folder)
        except (FileNotFoundError, NotImplementedError):
            return
        cutoff = timezone.now() - STAGED_LIFETIME
        for name in files:
            path = f"{self.folder}/{name}"
            try:
                if default_storage.get_modified_time(path) < cutoff:
                    default_storage.delete(path)
            except (FileNotFoundError, NotImplementedError):
                continue


# ---- photos --------------------------------------------------------------------------------------

# A phone photo is 2 to 6 MB.
PHOTO_MAX_BYTES = 10 * MB
# Decoding is width × height × 3 bytes of memory whatever the file's size: 50 megapixels
# (150 MB while re-encoding) is more than any phone's normal mode takes.
PHOTO_MAX_PIXELS = 50_000_000
# Photos in one form or API request; with PHOTO_MAX_BYTES this sets the largest request body
# (about 100 MB), which the reverse proxy's body limit must allow.
PHOTO_MAX_COUNT = 10
# Pillow's format → the extension and type the stored file gets.
PHOTO_FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png")}
PHOTO_ACCEPT = "image/jpeg,image/png"
JPEG_QUALITY = 90
PHOTO_HELP = gettext_lazy("JPEG or PNG, at most 10 MB each; location data (GPS) in the photo is not kept.")
# The help under a field that takes several photos (PHOTO_MAX_COUNT at once).
PHOTOS_HELP = gettext_lazy(
    "Up to 10 photos at once; JPEG or PNG, at most 10 MB each; location data (GPS) in the photos is not kept."
)


class PhotoRefused(ApplicationError):
    """A photo we do not store; `code` says why (photo_too_large, photo_format, photo_unreadable,
    too_many_photos)."""

    def __init__(self, message, code: str):
        super().__init__(message, code, field="photos")


def _name(file) -> str:
    return PurePath(str(getattr(file, "name", "") or "").replace("\\", "/")).name


def _too_large(file) -> PhotoRefused:
    return PhotoRefused(
        _("The photo “%(name)s” is larger than %(mb)d MB; send a smaller photo.")
        % {"name": _name(file), "mb": PHOTO_MAX_BYTES // MB},
        "photo_too_large",
    )


def _unreadable_message(file) -> str:
    return _("“%(name)s” is not a photo that can be read; send a JPEG or PNG photo.") % {"name": _name(file)}


def check_photo_count(photos) -> None:
    if len(photos) > PHOTO_MAX_COUNT:
        raise PhotoRefused(
            _("At most %(n)d photos can be sent at once.") % {"n": PHOTO_MAX_COUNT}, "too_many_photos"
        )


def check_photo(file) -> str:
    """The photo's format ("JPEG" or "PNG"), judged by its content; PhotoRefused otherwise. Reads
    only the header: the size is checked before the file is opened at all."""
    size = getattr(file, "size", None)
    if size is None or size > PHOTO_MAX_BYTES:
        raise _too_large(file)
    try:
        file.seek(0)
        with Image.open(file) as image:
            kind, (width, height) = image.format, image.size
    # Whatever Pillow cannot identify, or fails on, is not a photo we can store.
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        raise PhotoRefused(_unreadable_message(file), "photo_unreadable") from None
    finally:
        file.seek(0)
    if kind not in PHOTO_FORMATS:
        raise PhotoRefused(
            _("“%(name)s” is a %(format)s file; only JPEG and PNG photos are accepted.")
            % {"name": _name(file), "format": kind or "?"},
            "photo_format",
        )
    if width * height > PHOTO_MAX_PIXELS:
        raise PhotoRefused(
            _("The photo “%(name)s” has more than %(mp)d megapixels; take it at a lower resolution.")
            % {"name": _name(file), "mp": PHOTO_MAX_PIXELS // 1_000_000},
            "photo_too_large",
        )
    return kind


def photo_for_storage(file) -> ContentFile:
    """The photo to store: its pixels re-encoded in its own format, turned upright as the camera
    said, with no metadata (EXIF, GPS, comments) left. Refuses what `check_photo` refuses."""
    kind = check_photo(file)
    try:
        with Image.open(file) as image:
            image.load()
            # The camera's orientation tag goes with the EXIF block; apply it to the pixels first.
            upright = ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, OSError, ValueError, SyntaxError):
        raise PhotoRefused(_unreadable_message(file), "photo_unreadable") from None
    finally:
        file.seek(0)
    # Only what shows the picture as taken is kept: the colour profile and PNG transparency.
    keep = {key: upright.info[key] for key in ("icc_profile", "transparency") if key in upright.info}
    upright.info = {}
    out = io.BytesIO()
    if kind == "JPEG":
        if upright.mode not in ("RGB", "L", "CMYK"):
            upright = upright.convert("RGB")
        profile = {"icc_profile": keep["icc_profile"]} if "icc_profile" in keep else {}
        upright.save(out, "JPEG", quality=JPEG_QUALITY, **profile)
    else:
        upright.save(out, "PNG", **keep)
    extension = PHOTO_FORMATS[kind][0]
    stem = PurePath(_name(file)).stem[:80] or "photo"
    return ContentFile(out.getvalue(), name=f"{stem}.{extension}")


class PhotoField(serializers.FileField):
    """A photo in an API request: the size and the format by content, as on the pages."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", PHOTO_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        file = super().to_internal_value(data)
        try:
            check_photo(file)
        except PhotoRefused as e:
            raise serializers.ValidationError(str(e.message), code=e.code) from None
        return file
