# The production image: gunicorn serves the site; the same image runs the Celery worker and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_MEDIA_ROOT=/data/media

# gettext compiles the translations; pango, harfbuzz and the Noto CJK fonts render Chinese PDFs
# (harfbuzz-subset trims the CJK font in a PDF in 0.2 s; without it WeasyPrint takes about 9 s).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        gettext libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-noto-cjk fontconfig \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock .
RUN pip install -r requirements.lock

COPY . .

# Production settings have no defaults for secrets and refuse malformed ones, so the build makes
# well-formed throwaway values, random on each build, that live only in this RUN's shell: they are
# not kept in the image, and nothing here connects to a database or encrypts anything with them.
RUN DJANGO_SETTINGS_MODULE=config.settings.local python manage.py compilemessages --ignore=.venv -v 0 \
    && export DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
       ID_NUMBER_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
       ID_NUMBER_HASH_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
    && DJANGO_ALLOWED_HOSTS=localhost DATABASE_URL=sqlite:////tmp/build.sqlite3 \
       CELERY_BROKER_URL=memory:// CELERY_RESULT_BACKEND=cache+memory:// \
       python manage.py collectstatic --noinput -v 0

RUN useradd --system --uid 1000 --home-dir /app app \
    && mkdir -p /data/media \
    && chown -R app:app /data
USER app

EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--access-logfile", "-", "--timeout", "120"]
