import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_it_creates_the_admin_from_the_environment(settings, capsys):
    settings.DJANGO_SUPERUSER_USERNAME = "root"
    settings.DJANGO_SUPERUSER_PASSWORD = "s3cret-pass"
    settings.DJANGO_SUPERUSER_EMAIL = "root@example.com"
    call_command("ensure_admin")
    user = User.objects.get(username="root")
    assert user.is_superuser and user.check_password("s3cret-pass") and user.email == "root@example.com"
    assert "s3cret-pass" not in capsys.readouterr().out  # the configured secret is never printed
    settings.DJANGO_SUPERUSER_PASSWORD = "rotated-pass"
    call_command("ensure_admin")
    user.refresh_from_db()
    assert user.check_password("rotated-pass")


def test_it_generates_a_password_once_and_stores_it(capsys, settings, tmp_path):
    settings.DJANGO_SUPERUSER_USERNAME = "admin"
    settings.DJANGO_SUPERUSER_PASSWORD = ""
    settings.DATA_DIR = tmp_path
    call_command("ensure_admin")
    first = capsys.readouterr().out
    username, password = (tmp_path / "admin-password.txt").read_text().split()
    assert username == "admin" and password in first
    assert User.objects.get(username="admin").check_password(password)
    assert (tmp_path / "admin-password.txt").stat().st_mode & 0o077 == 0
    call_command("ensure_admin")
    second = capsys.readouterr().out
    assert password not in second and "admin-password.txt" in second
    assert User.objects.filter(is_superuser=True).count() == 1
