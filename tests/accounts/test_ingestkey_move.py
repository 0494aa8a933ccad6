"""IngestKey moved from monitoring to accounts: an installation upgraded from before the move
keeps its keys. Runs the real upgrade — `migrate` forward from the old schema — on a database
of its own, so no other test's schema is unapplied."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from accounts.models import hash_token

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

BASE_DIR = Path(__file__).resolve().parent.parent.parent
RAW = "ssi_issued-before-the-move"


@pytest.fixture
def old_database() -> Iterator[dict[str, str]]:
    params = connection.get_connection_params()
    server = {k: params[k] for k in ("host", "port", "user", "password") if params.get(k)}
    name = f"{connection.settings_dict['NAME']}_ingestkey_move"
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    auth = f"{quote(server.get('user', ''))}:{quote(server.get('password', ''))}@" if server.get("user") else ""
    host = quote(str(server.get("host", "")), safe="")
    env = {**os.environ, "DATABASE_URL": f"postgres://{auth}{host}:{server.get('port', 5432)}/{name}"}
    try:
        yield {"env": env, "name": name, **server}
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# In one go and without the migrate command's post-migrate hooks, which expect every table.
BEFORE_THE_MOVE = """
import django
django.setup()
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
executor = MigrationExecutor(connection)
old = {"accounts": "0003_apitoken_expires_at", "monitoring": "0003_scrape_targets"}
targets = [(app, old.get(app, name)) for app, name in executor.loader.graph.leaf_nodes()]
executor.migrate(targets)
"""


def python(env: dict[str, str], code: str) -> str:
    return run(env, "-c", code)


def manage(env: dict[str, str], *args: str) -> str:
    return run(env, "manage.py", *args)


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_key_issued_before_the_move_still_authenticates_after_the_upgrade(old_database):
    env = old_database["env"]
    server = {k: v for k, v in old_database.items() if k in ("host", "port", "user", "password")}
    # The schema as it was before the move (every other app at its latest), with a key issued then.
    python(env, BEFORE_THE_MOVE)
    with psycopg.connect(dbname=old_database["name"], autocommit=True, **server) as db:
        db.execute(
            "INSERT INTO monitoring_ingestkey (name, key_hash, prefix, is_active, created_at) "
            "VALUES ('old-collector', %s, %s, true, now())",
            [hash_token(RAW), RAW[:10]],
        )
        db.execute("INSERT INTO django_content_type (app_label, model) VALUES ('monitoring', 'ingestkey')")
    manage(env, "migrate")  # the upgrade
    check = (
        "import django; django.setup(); from accounts.authentication import user_for_token; "
        f"principal = user_for_token({RAW!r}); print(principal.ingest_key.name, principal.ingest_key._meta.db_table)"
    )
    assert python(env, check).split() == ["old-collector", "accounts_ingestkey"]
    with psycopg.connect(dbname=old_database["name"], **server) as db:
        labels = db.execute("SELECT app_label FROM django_content_type WHERE model = 'ingestkey'").fetchall()
    assert labels == [("accounts",)]  # permissions and admin history follow the model
