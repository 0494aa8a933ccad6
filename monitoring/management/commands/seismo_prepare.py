"""Everything a fresh or upgraded installation needs before serving (run by the launcher)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError


class Command(BaseCommand):
    help = "Migrate, collect static files and ensure the admin user exists."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            call_command("migrate", interactive=False, verbosity=0)
        except OperationalError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CommandError(f"cannot reach the database ({first_line}): check DATABASE_URL") from None
        manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
        if not settings.DEBUG and not manifest.exists():
            # Images collect at build time; a bare-metal production start does it once here.
            self.stdout.write("Collecting static files (once) …")
            call_command("collectstatic", interactive=False, verbosity=0)
        call_command("ensure_admin")
