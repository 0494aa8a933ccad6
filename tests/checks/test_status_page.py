"""Public status pages: anonymous, read-only, only what was chosen, from Redis (no database),
rate limited per client — and what Chromium shows an anonymous visitor."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from checks import services, statuspage
from checks.asgi import StatusPageApp
from checks.models import Check, CheckEvent, StatusPage, StatusPageGroup
from lib.redis import get_redis
from tests.conftest import ARTIFACTS, NEEDS_CHROMIUM, launch_chromium

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def _page(slug: str = "acme", published: bool = True) -> tuple[StatusPage, Check, Check, Check]:
    now = timezone.now()
    made = []
    for name, target in (
        ("Website", "http://10.1.2.3/secret-path"),
        ("API", "http://10.9.9.9/internal"),
        ("Billing DB", "10.0.0.5:5432"),
    ):
        check = Check(name=name, kind="tcp" if ":5432" in target else "http", target=target, interval_seconds=60)
        check.full_clean()
        made.append(services.save_check(check, []))
    site, api, hidden = made
    Check.objects.filter(pk__in=[c.pk for c in made]).update(created_at=now - timedelta(days=3))
    CheckEvent.objects.create(owner=site, at=now - timedelta(days=2), from_state="unknown", to_state="up")
    CheckEvent.objects.create(
        owner=site, at=now - timedelta(days=1), from_state="up", to_state="down", reason="status 503 (expected 2xx)"
    )
    CheckEvent.objects.create(
        owner=site, at=now - timedelta(hours=23), from_state="down", to_state="up", reason="status 200"
    )
    CheckEvent.objects.create(
        owner=api,
        at=now - timedelta(hours=1),
        from_state="unknown",
        to_state="down",
        reason="connection failed: Connection refused",
    )
    Check.objects.filter(pk=site.pk).update(state="up")
    Check.objects.filter(pk=api.pk).update(state="down")
    page = StatusPage.objects.create(
        slug=slug, title="Acme status", description="Our public services.", published=published
    )
    group = StatusPageGroup.objects.create(page=page, name="Public services")
    group.checks.set([site, api])
    statuspage.page_saved(page)
    return page, site, api, hidden


async def _get(
    app: StatusPageApp,
    path: str,
    method: str = "GET",
    host: bytes = b"status.example.com",
    client: str = "198.51.100.7",
) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": path, "method": method, "headers": [(b"host", host)], "client": (client, 5555)}
    await app(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


def run(app: StatusPageApp, path: str, **kwargs: Any) -> tuple[int, dict[bytes, bytes], bytes]:
    return asyncio.run(_get(app, path, **kwargs))


async def _refuse(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("status pages never reach Django")


@pytest.fixture
def clean_rate(db: None) -> None:
    redis = get_redis()
    for k in redis.scan_iter(match="seismotest:statuspage:*"):
        redis.delete(k)


@pytest.mark.django_db(transaction=True)
def test_a_published_page_is_served_from_redis_without_the_database(clean_rate) -> None:
    _page()
    app = StatusPageApp(_refuse)
    with CaptureQueriesContext(connection) as queries:
        status, headers, body = run(app, "/status/acme/")
    assert len(queries) == 0
    assert status == 200 and headers[b"content-type"].startswith(b"text/html")
    html = body.decode()
    assert "Acme status" in html and "Public services" in html
    assert "Website" in html and "API" in html
    assert "status 503 (expected 2xx)" in html and "connection failed: Connection refused" in html
    assert "Some systems are down" in html
    assert html.count('<span class="bar') == 2 * 90
    for secret in ("Billing DB", "10.1.2.3", "secret-path", "10.9.9.9", "5432", "kind", "check_up"):
        assert secret not in html


@pytest.mark.django_db(transaction=True)
def test_unpublished_unknown_wrong_host_and_writes_are_refused(clean_rate) -> None:
    _page("draft", False)
    app = StatusPageApp(_refuse)
    assert (run(app, "/status/draft/"))[0] == 404
    assert (run(app, "/status/nobody/"))[0] == 404
    assert (run(app, "/status/acme/", method="POST"))[0] == 405


@pytest.mark.django_db(transaction=True)
def test_each_client_is_rate_limited(clean_rate, settings) -> None:
    settings.STATUS_PAGE_RATE_LIMIT = 3
    _page()

    async def visits() -> list[tuple[int, dict[bytes, bytes], bytes]]:
        app, other_process = StatusPageApp(_refuse), StatusPageApp(_refuse)
        seen = [await _get(app, "/status/acme/") for _ in range(4)]
        seen.append(await _get(app, "/status/acme/", client="198.51.100.8"))  # another client
        await asyncio.sleep(0.7)  # this process adds its counts to Redis
        seen.append(await _get(other_process, "/status/acme/"))  # its own count still lags
        await asyncio.sleep(0.7)
        seen.append(await _get(other_process, "/status/acme/"))  # now it knows the total
        return seen

    answers = asyncio.run(visits())
    assert [a[0] for a in answers] == [200, 200, 200, 429, 200, 200, 429]
    assert int(answers[3][1][b"retry-after"]) > 0


@pytest.mark.django_db(transaction=True)
def test_other_paths_pass_through_to_django(clean_rate) -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])

    app = StatusPageApp(inner)
    asyncio.run(app({"type": "http", "path": "/checks/", "method": "GET", "headers": []}, None, None))
    assert seen == ["/checks/"]


@pytest.mark.django_db(transaction=True)
def test_a_state_change_rebuilds_the_page(clean_rate) -> None:
    from checks.probes import Result

    page, _, api, _ = _page()
    services.record_results([(api.pk, Result(True, "status 200", 0.01), timezone.now())])
    html = get_redis().get(statuspage.cache_key(page.slug)).decode()
    assert "All systems operational" in html
    page.published = False
    page.save()
    statuspage.page_saved(page)
    assert get_redis().get(statuspage.cache_key(page.slug)) is None
    assert statuspage.refresh_all() == 0


@pytest.mark.browser
@NEEDS_CHROMIUM
@pytest.mark.django_db(transaction=True)
def test_an_anonymous_visitor_sees_only_what_was_chosen_in_chromium(live_server_asgi: str, clean_rate) -> None:
    from playwright.sync_api import sync_playwright

    _page()
    base = f"http://{live_server_asgi}"
    assert requests.get(f"{base}/checks/", allow_redirects=False).status_code == 302  # the rest still needs a login
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_context().new_page()
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            response = page.goto(f"{base}/status/acme/")
            assert response.status == 200
            text = page.inner_text("body")
            (ARTIFACTS / "checks").mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "checks" / "status-page.png"), full_page=True)
            assert page.locator(".check").count() == 2
            assert page.locator(".check[data-check='Website'] .state").inner_text() == "up"
            assert page.locator(".check[data-check='API'] .state").inner_text() == "down"
            assert page.locator(".check[data-check='API'] .bar").count() == 90
            assert "Ongoing incidents" in text and "connection failed: Connection refused" in text
            assert "Recent incidents" in text and "status 503 (expected 2xx)" in text
            for secret in ("Billing DB", "10.1.2.3", "secret-path", "10.9.9.9", "Log out", "Admin"):
                assert secret not in page.content()
            assert "set-cookie" not in response.headers  # nothing set for an anonymous visitor
            assert page.context.cookies() == []  # and no other request went to Django
            assert errors == []
        finally:
            browser.close()
