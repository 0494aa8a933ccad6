"""API renderers beyond DRF's own (kept out of lib.api: DRF's renderers load its serializers,
which the worker never needs)."""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.renderers import JSONRenderer


class FastJSONRenderer(JSONRenderer):
    """JSON by orjson, for answers of thousands of numbers (a query's points encode ~10x faster
    than with ``json.dumps``), numpy arrays included (the query API's points); NaN and ±Inf,
    which JSON lacks, come out as ``null``."""

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if data is None:
            return b""
        return orjson.dumps(data, default=str, option=orjson.OPT_SERIALIZE_NUMPY)
