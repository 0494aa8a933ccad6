"""Secrets stay out of logs and files others can read."""

from __future__ import annotations

import io
import logging
import os
import stat
import threading

import pytest

from alerts import outbox
from alerts.models import NotificationChannel
from lib.logmask import SecretMaskFilter, mask
from lib.secretfile import write_secret_file
from tests.stands import Stand

SECRET_PATH = "/services/T0001/B0002/s3cr3t-webhook-path"


@pytest.mark.django_db
def test_a_test_send_never_writes_the_webhook_path_to_the_log(settings, caplog):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.1"]
    stand = Stand("127.0.0.1")
    (console,) = [h for h in logging.getLogger().handlers if any(isinstance(f, SecretMaskFilter) for f in h.filters)]
    written = io.StringIO()
    previous = console.setStream(written)  # the server's own log handler, as configured by LOGGING
    try:
        caplog.set_level(logging.DEBUG)  # everything any logger lets through, at every level
        channel = NotificationChannel.objects.create(
            name="slack", kind="slack", config={"webhook_url": f"{stand.url}{SECRET_PATH}"}
        )
        result = outbox.send_test(channel)
        logging.getLogger("alerts").warning("delivered to %s", channel.config["webhook_url"])
    finally:
        console.setStream(previous)
        stand.close()
    assert result.status == "sent" and stand.requests[0][0] == SECRET_PATH
    # No HTTP-client record carries the URL (httpx/httpcore below WARNING are dropped) …
    assert not [r for r in caplog.records if "s3cr3t" in r.getMessage() and r.name != "alerts"]
    # … and what the server's own log handler wrote has every path masked.
    assert "delivered to" in written.getvalue() and "s3cr3t" not in written.getvalue()
    assert "T0001" not in written.getvalue()


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("Authorization: Bearer sst_abcdefghijklmnopqrstu", "sst_abc"),
        ("ingest key ssi_abcdefghijklmnop refused", "ssi_abc"),
        ("POST https://hooks.slack.com/services/T1/B2/XYZ", "T1/B2"),
        ("login?username=a&password=hunter2", "hunter2"),
        ("apprise tgram://123456:ABCDEF/chat", "ABCDEF"),
    ],
)
def test_the_log_filter_masks_token_like_strings_and_url_paths(line, secret):
    assert secret not in mask(line)


def test_secret_files_are_owner_only_from_the_first_byte_and_never_half_written(tmp_path):
    path = tmp_path / "secret-key.txt"
    old_umask = os.umask(0)  # even a permissive umask gives others nothing
    try:
        assert write_secret_file(path, "first") is True
        assert write_secret_file(path, "second") is False  # kept: a running instance relies on it
    finally:
        os.umask(old_umask)
    assert path.read_text() == "first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert write_secret_file(path, "third", replace=True) and path.read_text() == "third"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret-key.txt"]  # no temporary left


def test_concurrent_creators_agree_on_one_secret(tmp_path):
    path = tmp_path / "secret-key.txt"
    results: list[bool] = []
    threads = [threading.Thread(target=lambda i=i: results.append(write_secret_file(path, f"k{i}"))) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1 and path.read_text() in {f"k{i}" for i in range(8)}
