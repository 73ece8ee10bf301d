"""Embedded default for trying the app: SQLite and Celery tasks run in-process."""

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-only-not-a-secret-0f3c9a7e")
# The demo shows its users the Chinese 404 and 500 pages, not Django's English debug pages (the
# traceback of a 500 is still in the server's log). DJANGO_FRIENDLY_ERROR_PAGES=0 for the latter.
FRIENDLY_ERROR_PAGES = env.bool("DJANGO_FRIENDLY_ERROR_PAGES", default=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent requests on SQLite must be answered as on PostgreSQL (one step wins, the others
    # 409), never 500 "database is locked" (issue 10). WAL lets readers run beside the one writer;
    # IMMEDIATE takes the write lock when a transaction begins, so a second writer waits for it
    # (up to `timeout` seconds) before reading, instead of failing when its deferred read lock
    # cannot be upgraded; the row lock of select_for_update, a no-op on SQLite, is replaced by that.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )

# Demo keys: fine for a laptop, never for production (production.py has no defaults).
ID_NUMBER_KEYS = env.list("ID_NUMBER_KEYS", default=["tP4t3kzKQ0o2r6l3mWq0dQxGJ1yYwz8bq3xW0cH9n1E="])
ID_NUMBER_HASH_KEY = env.str("ID_NUMBER_HASH_KEY", default="local-demo-hash-key")

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
