"""Django settings for the pipeline admin (pipeline.acme-data.net)."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "django-insecure-@@chars:pipeline-django:50@@"

DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
ALLOWED_HOSTS = ["pipeline.acme-data.net", "localhost"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "pipeline",
        "USER": "pipeline_admin",
        "PASSWORD": "pG7#nL2@vQ9xRk",
        "HOST": "pipeline-db.acme-data.net",
        "PORT": "5432",
    },
    "warehouse": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "warehouse",
        "USER": os.environ["WAREHOUSE_USER"],
        "PASSWORD": os.environ["WAREHOUSE_PASSWORD"],
        "HOST": os.environ.get("WAREHOUSE_HOST", "localhost"),
    },
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
]

PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "smtp.mailgun.org"
EMAIL_HOST_USER = "postmaster@mg.acme-data.net"
EMAIL_HOST_PASSWORD = os.getenv("MAILGUN_SMTP_PASSWORD", "")

CELERY_BROKER_URL = "amqp://pipeline:Rb8$kq2LmZx7@rabbitmq.acme-data.net:5672/pipeline"
CELERY_RESULT_BACKEND = "redis://localhost:6379/1"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
