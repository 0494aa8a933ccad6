"""Settings read from the environment: SEISMO_PUBLIC_URL, the base of every notification link."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def public_url(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "SEISMO_PUBLIC_URL")}
    code = "from django.conf import settings; print(settings.SEISMO_PUBLIC_URL)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_a_wildcard_listen_address_links_to_the_machines_hostname(host):
    assert public_url(HOST=host, PORT="8123") == f"http://{socket.gethostname()}:8123"


def test_links_default_to_the_listen_address_and_port():
    assert public_url() == "http://127.0.0.1:8000"
    assert public_url(HOST="::1", PORT="9000") == "http://[::1]:9000"


def test_an_explicit_public_url_wins_over_host_and_port():
    assert public_url(HOST="0.0.0.0", SEISMO_PUBLIC_URL="https://seismo.example.com/") == "https://seismo.example.com"
