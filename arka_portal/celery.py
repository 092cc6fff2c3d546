"""The Celery app. Tasks live in each Django app's tasks.py; beat reads django-celery-beat's tables."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arka_portal.settings")

app = Celery("arka_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
