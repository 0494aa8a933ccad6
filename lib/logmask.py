"""A logging filter that masks secrets: bearer tokens, Seismo tokens and keys, URL paths and queries
(webhook URLs carry their secret in the path), and ``password=``/``token=`` style pairs."""

from __future__ import annotations

import logging
import re

MASK = "•••"
_PAIRS = [
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    (re.compile(r"\bss[ti]_[A-Za-z0-9_-]{8,}"), MASK),  # user tokens, ingest keys
    (re.compile(r"(?i)\b(password|passwd|secret|token|api_key|apikey|key)=([^&\s\"']+)"), rf"\1={MASK}"),
]
# scheme://[userinfo@]host[:port] then the rest, where webhook and Apprise URLs keep their secret.
_URL = re.compile(
    r"(?i)\b(?P<scheme>[a-z][a-z0-9+.-]*://)(?:[^/\s@\"']+@)?"
    r"(?P<host>\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?P<port>:\d+(?=[/?#\s\"']|$))?(?P<rest>[^\s\"']*)"
)


def _url(match: re.Match[str]) -> str:
    kept = match["scheme"] + match["host"] + (match["port"] or "")
    return kept + f"/{MASK}" if match["rest"] else kept


def mask(text: str) -> str:
    text = _URL.sub(_url, text)
    for pattern, replacement in _PAIRS:
        text = pattern.sub(replacement, text)
    return text


class SecretMaskFilter(logging.Filter):
    """Rewrites each record's message (arguments merged first) with secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed record: let logging report it as usual
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
