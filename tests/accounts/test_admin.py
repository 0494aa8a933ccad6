import re

import pytest

from accounts.models import IngestKey, hash_token

pytestmark = pytest.mark.django_db


def test_an_admin_creates_an_ingest_key_and_sees_it_once(client, owner):
    client.force_login(owner)
    response = client.post("/admin/accounts/ingestkey/add/", {"name": "web-01", "is_active": "on"}, follow=True)
    assert response.status_code == 200
    shown = re.search(r"(ssi_[A-Za-z0-9_\-]+)", response.content.decode())
    assert shown, "the raw key is shown to the admin who created it"
    key = IngestKey.objects.get(name="web-01")
    assert key.key_hash == hash_token(shown.group(1))
    page = client.get(f"/admin/accounts/ingestkey/{key.pk}/change/").content.decode()
    assert shown.group(1) not in page  # never shown again
    client.post(f"/admin/accounts/ingestkey/{key.pk}/change/", {"name": "web-01-renamed"})
    key.refresh_from_db()
    assert key.name == "web-01-renamed" and key.key_hash == hash_token(shown.group(1))


def test_ingest_keys_reach_nothing_but_ingest(anon_api):
    key, raw = IngestKey.issue("collector")
    anon_api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert anon_api.get("/api/v1/").status_code == 403
    assert IngestKey.lookup(raw) == key
    new_raw = key.rotate()
    assert IngestKey.lookup(raw) is None and IngestKey.lookup(new_raw) == key
    key.is_active = False
    key.save()
    assert IngestKey.lookup(new_raw) is None


def test_api_tokens_are_listed_in_the_admin_but_never_created_there(client, owner, api_as):
    api_as(owner)
    client.force_login(owner)
    listing = client.get("/admin/accounts/apitoken/")
    assert listing.status_code == 200 and "sst_" in listing.content.decode()  # the prefix only
    assert client.get("/admin/accounts/apitoken/add/").status_code == 403
