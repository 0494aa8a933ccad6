import pytest
from django.test import Client

from monitoring.models import ScrapeTarget

pytestmark = pytest.mark.django_db

URL = "/api/v1/scrape-targets/"


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):
    settings.OUTBOUND_ALLOWLIST = ["127.0.0.0/8"]


def test_an_admin_creates_a_target_and_its_secret_is_masked_when_read_back(api_as, owner, viewer):
    body = {"name": "redis", "url": "http://127.0.0.1:9121/metrics", "auth": {"bearer": "s3cret-token"}}
    created = api_as(owner).post(URL, body, format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["auth"] == {"bearer": "•••"} and data["interval_seconds"] == 15 and data["timeout_seconds"] == 10
    assert data["health"] == "unknown" and data["last_scrape"] is None
    read = api_as(viewer).get(f"{URL}{data['id']}/").json()
    assert read["auth"] == {"bearer": "•••"} and "s3cret" not in str(read)
    # Sending the mask back keeps the secret; a new value replaces it.
    assert api_as(owner).patch(f"{URL}{data['id']}/", {"auth": {"bearer": "•••"}}, format="json").status_code == 200
    assert ScrapeTarget.objects.get().auth == {"bearer": "s3cret-token"}


def test_editors_and_viewers_may_not_write_and_outsiders_get_nothing(api_as, editor, viewer, outsider, anon_api):
    body = {"name": "x", "url": "http://127.0.0.1:9100/metrics"}
    assert api_as(editor).post(URL, body, format="json").status_code == 403
    assert api_as(viewer).post(URL, body, format="json").status_code == 403
    assert api_as(outsider).get(URL).status_code == 403
    assert anon_api.get(URL).status_code == 401
    assert ScrapeTarget.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a", "url": "ftp://127.0.0.1/metrics"}, "url"),
        ({"name": "a", "url": "http://10.1.2.3:9100/metrics"}, "url"),
        ({"name": "a", "url": "http://127.0.0.1:9100/metrics", "timeout_seconds": 30}, "timeout_seconds"),
        ({"name": "a", "url": "http://127.0.0.1:9100/metrics", "labels": {"bad-name": "x"}}, "labels"),
        ({"name": "a", "url": "http://127.0.0.1:9100/metrics", "auth": {"token": "x"}}, "auth"),
        ({"name": "a\x00b", "url": "http://127.0.0.1:9100/metrics"}, "name"),
    ],
)
def test_invalid_targets_are_refused_with_the_field(api_as, owner, body, field):
    response = api_as(owner).post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_a_scrape_configs_block_is_imported_through_the_api(api_as, owner, editor):
    config = "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:9100']\n"
    yaml_body = {"data": config, "content_type": "application/yaml"}
    assert api_as(editor).generic("POST", f"{URL}import/", **yaml_body).status_code == 403
    response = api_as(owner).generic("POST", f"{URL}import/", **yaml_body)
    assert response.status_code == 201
    assert [t["name"] for t in response.json()] == ["node"]
    as_json = {"scrape_configs": [{"job_name": "db", "static_configs": [{"targets": ["127.0.0.1:9187"]}]}]}
    assert [t["name"] for t in api_as(owner).post(f"{URL}import/", as_json, format="json").json()] == ["db"]
    bad = api_as(owner).generic(
        "POST", f"{URL}import/", data="scrape_configs: [: nope", content_type="application/yaml"
    )
    assert bad.status_code == 400 and "YAML" in bad.json()["error"]["message"]


def test_a_yaml_alias_bomb_is_refused_not_expanded(api_as, owner):
    # A few hundred bytes that stand for 10^9 values: a 400 at once, not a walk of them all.
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    bomb = "\n".join(levels) + "\nscrape_configs: *a8\n"
    answer = api_as(owner).generic("POST", f"{URL}import/", data=bomb, content_type="application/yaml")
    assert answer.status_code == 400 and "expands to more than" in answer.json()["error"]["message"]
    # Anchors used as people use them (one shared block) are fine.
    shared = (
        "common: &targets ['127.0.0.1:9100']\n"
        "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: *targets\n"
    )
    answer = api_as(owner).generic("POST", f"{URL}import/", data=shared, content_type="application/yaml")
    assert answer.status_code == 201 and [t["name"] for t in answer.json()] == ["node"]


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({"config": "scrape_configs: []"}, "scrape_configs"),  # the YAML goes as the body itself
        ([{"job_name": "a", "static_configs": [{"targets": ["127.0.0.1:1"]}], "scrape_interval": "2h"}], "0"),
        ([{"job_name": "a", "static_configs": [{"targets": ["127.0.0.1:1"], "labels": {"env": 1}}]}], "labels"),
        ([{"job_name": "a", "static_configs": [{"targets": ["127.0.0.1:1"]}], "sample_limit": "5"}], "sample_limit"),
        (
            [
                {"job_name": "a", "static_configs": [{"targets": ["127.0.0.1:1"]}]},
                {"job_name": "a", "static_configs": [{"targets": ["127.0.0.1:2"]}]},
            ],
            "twice",
        ),
    ],
)
def test_an_import_that_is_not_a_scrape_configs_document_is_refused_saying_where(api_as, owner, document, says):
    answer = api_as(owner).post(f"{URL}import/", document, format="json")
    assert answer.status_code == 400 and says in answer.json()["error"]["message"]
    assert not ScrapeTarget.objects.exists()


def test_the_targets_page_shows_health_and_the_last_error(owner, viewer):
    ScrapeTarget.objects.create(name="db", url="http://127.0.0.1:9187/metrics", health="down", last_error="HTTP 500")
    client = Client()
    client.force_login(viewer)
    page = client.get("/targets/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "http://127.0.0.1:9187/metrics" in html and "DOWN" in html and "HTTP 500" in html
    partial = client.get("/targets/", HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and "HTTP 500" in partial.content.decode()
    assert Client().get("/targets/").status_code == 302  # anonymous: to the login page
