"""Keeps each app's Chinese catalogue in step with its source.

Each app owns `<app>/locale/zh_Hans/LC_MESSAGES/django.po`, holding the strings of the app's
Python code and of `templates/<app>/` (the `core` catalogue also holds `config/`, the root
templates and `templates/includes/`). `i18n_sync APP ...` adds new strings (empty, to be
translated) and drops ones no longer used; `i18n_sync --check` fails listing every string
that has no translation, which the test suite runs."""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def project_apps() -> list[str]:
    """The project's own apps, as INSTALLED_APPS lists them (not Django's or a library's): the
    ones whose package sits directly in the project folder."""
    from django.apps import apps

    base = Path(settings.BASE_DIR).resolve()
    return [Path(c.path).name for c in apps.get_app_configs() if Path(c.path).resolve().parent == base]


HEADER = {
    "Project-Id-Version": "fupin",
    "Language": "zh_Hans",
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
    "Plural-Forms": "nplurals=1; plural=0;",
}


def sources(base: Path, app: str) -> list[Path]:
    paths = [base / app, base / "templates" / app]
    if app == "core":
        paths += [base / "config", base / "templates" / "includes"]
        paths += [p for p in (base / "templates").glob("*.html")]
    return [p for p in paths if p.exists()]


def extract(base: Path, app: str) -> polib.POFile:
    """Run Django's makemessages over a copy of the app's sources only."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for src in sources(base, app):
            dest = tmp / src.relative_to(base)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(
                    src, dest, ignore=shutil.ignore_patterns("locale", "migrations", "__pycache__")
                )
            else:
                shutil.copy(src, dest)
        (tmp / "locale").mkdir()
        subprocess.run(
            [
                sys.executable,
                str(base / "manage.py"),
                "makemessages",
                "-l",
                "zh_Hans",
                "--no-obsolete",
                "-v",
                "0",
            ],
            cwd=tmp,
            check=True,
            env={
                "DJANGO_SETTINGS_MODULE": "config.settings.local",
                "PYTHONPATH": str(base),
                "PATH": "/usr/bin:/bin",
            },
        )
        po_path = tmp / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
        return polib.pofile(str(po_path)) if po_path.exists() else polib.POFile()


def catalogue_path(base: Path, app: str) -> Path:
    return base / app / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def key(entry) -> tuple:
    return (entry.msgctxt, entry.msgid, entry.msgid_plural)


class Command(BaseCommand):
    help = "Sync or check the zh_Hans catalogues of the project's apps."

    def add_arguments(self, parser):
        parser.add_argument("apps", nargs="*", help="apps to sync (default: all that exist)")
        parser.add_argument("--check", action="store_true", help="fail if any string lacks a translation")

    def handle(self, *args, apps, check, **options):
        base = Path(settings.BASE_DIR)
        apps = apps or project_apps()
        missing = []
        for app in apps:
            fresh = extract(base, app)
            path = catalogue_path(base, app)
            old = polib.pofile(str(path)) if path.exists() else polib.POFile()
            known = {key(e): e for e in old if not e.obsolete}
            if check:
                for e in fresh:
                    have = known.get(key(e))
                    done = (
                        have is not None
                        and "fuzzy" not in have.flags
                        and (have.msgstr or (have.msgstr_plural and all(have.msgstr_plural.values())))
                    )
                    if not done:
                        missing.append(f"{app}: {e.msgid!r}")
                continue
            merged = polib.POFile()
            merged.metadata = HEADER
            for e in fresh:
                have = known.get(key(e))
                if have is not None:
                    e.msgstr, e.msgstr_plural = have.msgstr, have.msgstr_plural
                    e.flags = [f for f in have.flags if f != "fuzzy"] if have.msgstr else e.flags
                e.occurrences = []
                merged.append(e)
            path.parent.mkdir(parents=True, exist_ok=True)
            merged.save(str(path))
            todo = [e.msgid for e in merged if not e.translated()]
            self.stdout.write(f"{app}: {len(merged)} strings, {len(todo)} untranslated")
            for msgid in todo:
                self.stdout.write(f"  {msgid!r}")
        if check and missing:
            raise CommandError("Strings without a Chinese translation:\n" + "\n".join(missing))
