"""IngestKey moved from monitoring to accounts: keys issued before the move keep working."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.authentication import user_for_token
from accounts.models import IngestKey, hash_token

BEFORE = [("accounts", "0003_apitoken_expires_at"), ("monitoring", "0003_scrape_targets")]


def migrate(targets: list[tuple[str, str]] | None = None) -> None:
    """To ``targets``, or forward to every app's latest migration."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_a_key_issued_before_the_move_still_authenticates_after_it():
    migrate(BEFORE)
    try:
        raw = "ssi_issued-before-the-move"
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO monitoring_ingestkey (name, key_hash, prefix, is_active, created_at) "
                "VALUES ('old-collector', %s, %s, true, now())",
                [hash_token(raw), raw[:10]],
            )
            cursor.execute(
                "INSERT INTO django_content_type (app_label, model) VALUES ('monitoring', 'ingestkey') "
                "ON CONFLICT DO NOTHING"
            )
    finally:
        migrate()
    key = IngestKey.objects.get(name="old-collector")
    principal = user_for_token(raw)
    assert principal is not None and principal.ingest_key == key
    assert IngestKey._meta.db_table == "accounts_ingestkey"
    with connection.cursor() as cursor:
        cursor.execute("SELECT app_label FROM django_content_type WHERE model = 'ingestkey'")
        assert cursor.fetchall() == [("accounts",)]  # permissions and admin history follow the model
