"""Embedded default for trying the app: SQLite and Celery tasks run in-process."""

from .base import *  # noqa: F403
from .base import BASE_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-only-not-a-secret-0f3c9a7e")
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}

# Demo keys: fine for a laptop, never for production (production.py has no defaults).
ID_NUMBER_KEYS = env.list("ID_NUMBER_KEYS", default=["tP4t3kzKQ0o2r6l3mWq0dQxGJ1yYwz8bq3xW0cH9n1E="])
ID_NUMBER_HASH_KEY = env.str("ID_NUMBER_HASH_KEY", default="local-demo-hash-key")

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "cache+memory://"
