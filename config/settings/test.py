"""Test settings: the real PostgreSQL and Redis, a fast password hasher, an isolated namespace."""

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
# Tests share a Redis with a running `make run`: keep their keys, queues and groups apart.
os.environ.setdefault("REDIS_KEY_PREFIX", "seismotest")
os.environ.setdefault("DB_POOL", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")

from config.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ALLOWED_HOSTS = ["*"]

# Test runs against one server with different DATABASE_URLs (several developers' sessions) must
# not share a test database: by default it is named after DATABASE_URL's, as Django does.
DATABASES["default"]["TEST"] = {  # noqa: F405
    "NAME": env.str("TEST_DATABASE_NAME", default=f"test_{DATABASES['default']['NAME']}")  # noqa: F405
}

# Tests serve static/ as it is in the tree (nothing is collected before a test run): browser
# tests would otherwise load pages without their CSS and scripts.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
