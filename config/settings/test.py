"""Test settings: the machine's real PostgreSQL and Redis."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-only-not-a-secret"
DATABASES = {"default": env.db("TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/fupin")}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ID_NUMBER_KEYS = ["xfGCJ1QWdHzYkq3bQ4fQ2c7n2l8G3W2y4tZQm2Zp0Xk="]
ID_NUMBER_HASH_KEY = "test-hash-key"
CELERY_BROKER_URL = env.str("TEST_REDIS_URL", default="redis://127.0.0.1:6379/15")
CELERY_RESULT_BACKEND = CELERY_BROKER_URL
MEDIA_ROOT = "/tmp/fupin-test-media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# The tests run on a pinned clock (tests/conftest.py) while Chromium keeps the real one: cookies
# that expire at a date computed from the pinned clock could already be past for the browser.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_AGE = None
# Authentication (issue 10): django-axes stays enabled (tests/security/test_authentication.py
# proves the lockout); the API's rate limits count in this process's own cache, which
# tests/conftest.py clears before each test so one test's requests never throttle another's.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
