"""Production: PostgreSQL, Redis, Celery workers and beat. Every secret comes from the
environment and has no default, so a missing one stops the process at start-up."""

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

# --- Secrets checked at start-up (issue 10) ---------------------------------------------------
# Present is not enough: an empty, truncated or placeholder value would run, and encrypt or hash
# ID numbers with a key anyone can guess. The messages name the variable, never its value.
MIN_SECRET_KEY_LENGTH = 50  # what `check --deploy` asks of SECRET_KEY
MIN_HASH_KEY_LENGTH = 32


def _secret(name: str, min_length: int) -> str:
    value = env.str(name).strip()
    if len(value) < min_length or len(set(value)) < 5:
        raise ImproperlyConfigured(
            f"{name} must be a random value of at least {min_length} characters (it has {len(value)}); "
            "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return value


def _fernet_keys(name: str) -> list[str]:
    keys = [key.strip() for key in env.list(name) if key.strip()]
    if not keys:
        raise ImproperlyConfigured(
            f"{name} is empty: give at least one Fernet key, newest first, comma-separated; generate one "
            "with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
        )
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"{name}: key {position} of {len(keys)} is not a Fernet key (32 bytes in URL-safe "
                "base64, 44 characters); generate one with: python -c 'from cryptography.fernet import "
                "Fernet; print(Fernet.generate_key().decode())'"
            ) from None
    return keys


DEBUG = False
SECRET_KEY = _secret("DJANGO_SECRET_KEY", MIN_SECRET_KEY_LENGTH)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
ID_NUMBER_KEYS = _fernet_keys("ID_NUMBER_KEYS")
ID_NUMBER_HASH_KEY = _secret("ID_NUMBER_HASH_KEY", MIN_HASH_KEY_LENGTH)
if ID_NUMBER_HASH_KEY in ID_NUMBER_KEYS:
    # The keyed hash must not be derivable from the encryption keys (base.py).
    raise ImproperlyConfigured("ID_NUMBER_HASH_KEY must differ from every key in ID_NUMBER_KEYS.")
# --- end of secrets checked at start-up -------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Uploaded files (archive documents, photos, printed dossier batches) are on local disk
# (DJANGO_MEDIA_ROOT) unless DJANGO_S3_BUCKET names a bucket of an S3-compatible object store
# (MinIO, or a cloud's object storage with the S3 API): then django-storages keeps them there,
# private, and the app still serves them only through its own scoped views.
if env.str("DJANGO_S3_BUCKET", default=""):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("DJANGO_S3_BUCKET"),
            "endpoint_url": env.str("DJANGO_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("DJANGO_S3_REGION", default="") or None,
            "access_key": env.str("DJANGO_S3_ACCESS_KEY", default="") or None,
            "secret_key": env.str("DJANGO_S3_SECRET_KEY", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }

# --- Authentication (issue 10) ----------------------------------------------------------------
# The API's rate limits count in Django's cache: one Redis for every worker process, or each
# process would count on its own. Sessions and login lockouts live in the database.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env.str("DJANGO_CACHE_URL", default=CELERY_BROKER_URL),
        "KEY_PREFIX": "fupin",
    }
}
