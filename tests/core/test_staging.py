"""core/uploads.py `Staging`: an import's file between its preview and its confirmation is named
only by the server's own token, answers only the token the session holds, is used once, and is
swept after a day (#11: one definition for the importers' copies)."""

import datetime
import os
from pathlib import Path

import pytest

from core.uploads import STAGED_LIFETIME, Staging

STAGING = Staging(session_key="test_import", folder="imports", prefix="test-")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def test_staged_file_waits_for_its_token_once(tmp_path):
    session = {}
    token = STAGING.stage(session, b"a,b\n", suffix=".csv", filename="x.csv")

    assert (tmp_path / "imports" / f"test-{token}.csv").read_bytes() == b"a,b\n"
    assert session["test_import"] == {"token": token, "suffix": ".csv", "filename": "x.csv"}
    assert STAGING.pending(session, "0" * 32) is None
    assert STAGING.pending(session, None) is None
    entry = STAGING.pending(session, token)
    with STAGING.open(entry) as file:
        assert file.read() == b"a,b\n"

    STAGING.discard(session)
    assert session == {}
    assert not (tmp_path / "imports" / f"test-{token}.csv").exists()
    assert STAGING.pending(session, token) is None


def test_a_new_upload_replaces_the_waiting_one(tmp_path):
    session = {}
    first = STAGING.stage(session, b"1")
    second = STAGING.stage(session, b"2")
    assert not (tmp_path / "imports" / f"test-{first}").exists()
    assert (tmp_path / "imports" / f"test-{second}").exists()
    assert STAGING.pending(session, first) is None


@pytest.mark.parametrize(
    "token, suffix",
    [("../../settings", ""), ("0" * 31 + "/", ""), ("A" * 32, ""), ("0" * 32, "/../x"), ("0" * 32, ".py")],
)
def test_no_name_leaves_the_folder(token, suffix):
    with pytest.raises(ValueError):
        STAGING.name(token, suffix)
    # A tampered session entry is nothing waiting, not an error.
    session = {"test_import": {"token": token, "suffix": suffix}}
    assert STAGING.pending(session, token) is None
    STAGING.discard(session)


def test_files_older_than_a_day_are_swept(tmp_path):
    old = STAGING.stage({}, b"old")
    path = tmp_path / "imports" / f"test-{old}"
    stamp = (datetime.datetime.now() - STAGED_LIFETIME - datetime.timedelta(minutes=1)).timestamp()
    os.utime(path, (stamp, stamp))
    fresh = STAGING.stage({}, b"fresh")

    assert not path.exists()
    assert Path(tmp_path / "imports" / f"test-{fresh}").exists()
