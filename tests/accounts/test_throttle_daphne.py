"""The login throttle as a client meets it through a real daphne: 11 failed logins, each with a
new X-Forwarded-For, lock the user out of the login page, the admin login and the token API."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LOCKED = "Too many failed logins"
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def forged(i: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"203.0.113.{i}"}


def post_form(client: httpx.Client, path: str, username: str, password: str, i: int) -> httpx.Response:
    """Log in as a browser would: fetch the form (CSRF cookie and token), then post it."""
    page = client.get(path)
    token = CSRF.search(page.text)
    assert page.status_code == 200 and token, page.text[:300]
    return client.post(
        path,
        data={"username": username, "password": password, "csrfmiddlewaretoken": token.group(1)},
        headers={**forged(i), "Referer": f"{client.base_url}{path}"},
    )


@pytest.fixture
def web(live_server_asgi: str):
    with httpx.Client(base_url=f"http://{live_server_asgi}", timeout=20) as client:
        yield client


def test_the_login_page_locks_a_user_out_after_ten_failures_whatever_the_forwarded_for(web, viewer):
    answers = [post_form(web, "/accounts/login/", "viewer", "wrong", i) for i in range(11)]
    assert all(a.status_code == 200 for a in answers)
    assert not any(LOCKED in a.text for a in answers[:10]) and LOCKED in answers[10].text
    right = post_form(web, "/accounts/login/", "viewer", "pw-viewer", 11)
    assert right.status_code == 200 and LOCKED in right.text  # the right password no longer helps
    assert web.get("/").status_code == 302  # still not logged in


def test_the_admin_login_locks_a_user_out_after_ten_failures_whatever_the_forwarded_for(web, owner):
    answers = [post_form(web, "/admin/login/", "owner", "wrong", i) for i in range(11)]
    assert LOCKED not in answers[9].text and LOCKED in answers[10].text
    right = post_form(web, "/admin/login/", "owner", "pw-owner", 11)
    assert right.status_code == 200 and LOCKED in right.text
    assert web.get("/admin/").status_code == 302


def test_the_token_api_answers_429_json_after_ten_failures_whatever_the_forwarded_for(web, editor):
    def attempt(password: str, i: int) -> httpx.Response:
        return web.post("/api/v1/auth/token/", json={"username": "editor", "password": password}, headers=forged(i))

    assert [attempt("wrong", i).status_code for i in range(10)] == [401] * 10
    locked = attempt("wrong", 10)
    assert locked.status_code == 429 and locked.headers["content-type"].startswith("application/json")
    assert locked.json()["error"]["code"] == "throttled" and int(locked.headers["Retry-After"]) > 0
    assert attempt("pw-editor", 11).status_code == 429
