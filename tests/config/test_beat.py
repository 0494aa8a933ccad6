"""Beat is light: it builds the apps' schedule and sends tasks by name without loading the
Django project (no models, no task modules, no database driver)."""

import importlib
import json
import subprocess
import sys

from django.apps import apps

from config.beat import beat_schedule
from config.celery import app as worker_app
from tests.conftest import BASE_DIR, child_env

PROBE = """
import json, sys
from config.beat import beat_schedule
schedule = beat_schedule()
apps = ("accounts", "alerts", "audit", "checks", "dashboards", "loadtest", "monitoring")
heavy = [m for m in sys.modules if m.split(".")[0] in ("psycopg", "numpy")]
heavy += [m for m in sys.modules if m.split(".")[0] in apps and "." in m and not m.endswith(".schedule")]
print(json.dumps({"entries": len(schedule), "heavy": sorted(heavy), "models": "django.db.models" in sys.modules}))
"""


def test_beat_builds_its_schedule_without_loading_models_tasks_or_the_database_driver():
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, env=child_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["entries"] >= 10
    assert report["heavy"] == []
    assert report["models"] is False


def test_every_periodic_task_is_one_the_worker_registers():
    worker_app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in beat_schedule().values()}
    assert scheduled <= set(worker_app.tasks), scheduled - set(worker_app.tasks)


def test_periodic_tasks_are_listed_only_in_the_apps_schedule_modules():
    # A BEAT_SCHEDULE left in a tasks module would never run: beat does not import tasks.
    for config in apps.get_app_configs():
        if not config.name.startswith("django") and (BASE_DIR / config.name / "tasks.py").exists():
            module = importlib.import_module(f"{config.name}.tasks")
            assert not hasattr(module, "BEAT_SCHEDULE"), config.name
