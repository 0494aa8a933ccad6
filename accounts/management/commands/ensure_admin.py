"""Make sure an admin can log in: from DJANGO_SUPERUSER_* or with a generated password."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from lib.secretfile import write_secret_file


class Command(BaseCommand):
    help = "Create the admin user if there is none (prints a generated password once)."

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        username = settings.DJANGO_SUPERUSER_USERNAME
        password = settings.DJANGO_SUPERUSER_PASSWORD
        email = settings.DJANGO_SUPERUSER_EMAIL
        secret_file = Path(settings.DATA_DIR) / "admin-password.txt"

        user = user_model.objects.filter(username=username).first()
        if password:
            if user is None:
                user_model.objects.create_superuser(username=username, email=email, password=password)
            elif not user.check_password(password):
                user.set_password(password)
                user.save(update_fields=["password"])
            self.stdout.write(f"Log in as {username} with DJANGO_SUPERUSER_PASSWORD.")
            return
        if user is None and not user_model.objects.filter(is_superuser=True).exists():
            password = secrets.token_urlsafe(12)
            user_model.objects.create_superuser(username=username, email=email, password=password)
            write_secret_file(secret_file, f"{username}\n{password}\n", replace=True)
            self.stdout.write(f"Created admin user {username!r} with password {password}")
            self.stdout.write(f"(printed once; also stored in {secret_file})")
            return
        existing = user or user_model.objects.filter(is_superuser=True).order_by("pk").first()
        where = f" — password in {secret_file}" if secret_file.exists() else ""
        self.stdout.write(f"Log in as {existing.get_username()}{where}.")
