"""Stream topic names live in monitoring/topics.py alone: pages get them from the server (the
#seismo-topics block stream.js exposes as SeismoStream.topics), templates and scripts hold no copy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from monitoring import topics

pytestmark = pytest.mark.django_db

ROOT = Path(settings.BASE_DIR)


def _page_sources() -> list[Path]:
    """Every template and script of ours (vendored libraries excluded)."""
    files = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("*/templates/**/*.html")]
    files += [p for p in ROOT.glob("static/js/*.js")] + [*ROOT.glob("*/static/**/*.js")]
    return [p for p in files if "vendor" not in p.parts and ".venv" not in p.parts]


def test_every_page_gets_the_topic_names_from_the_server(viewer):
    client = Client()
    client.force_login(viewer)
    html = client.get("/alerts/").content.decode()
    block = re.search(r'<script id="seismo-topics" type="application/json">(.*?)</script>', html)
    assert block is not None
    assert json.loads(block.group(1)) == topics.for_pages()
    assert json.loads(block.group(1))["alert"] == topics.ALERT


def test_no_template_or_script_spells_a_topic_name():
    sources = _page_sources()
    assert len(sources) > 20
    # A quoted topic name, or a subscription to a literal list, is a copy. ("alert" and "checks"
    # are also ordinary words, in class names and app names: the subscription pattern finds them.)
    literals = [re.compile(rf"""["'`]{re.escape(t)}["'`]""") for t in topics.ALL if "-" in t]
    literals.append(re.compile(r"""subscribe\(\[\s*["'`]"""))
    found = [
        f"{path.relative_to(ROOT)}: {pattern.pattern}"
        for path in sources
        for pattern in literals
        if pattern.search(_code(path))
    ]
    assert found == []


def _code(path: Path) -> str:
    """The file without its JS line comments (usage examples may name a topic)."""
    return re.sub(r"^\s*//.*$", "", path.read_text(), flags=re.MULTILINE)
