"""The choice sets and limits of availability checks (one home for each)."""

from django.db import models


class CheckKind(models.TextChoices):
    HTTP = "http", "HTTP(S)"
    TCP = "tcp", "TCP port"
    DNS = "dns", "DNS record"
    TLS = "tls", "TLS certificate"
    PING = "ping", "Ping (ICMP)"
    HEARTBEAT = "heartbeat", "Heartbeat (the job calls us)"


class CheckState(models.TextChoices):
    UP = "up", "Up"
    DEGRADED = "degraded", "Degraded"
    DOWN = "down", "Down"
    PAUSED = "paused", "Paused"
    UNKNOWN = "unknown", "Unknown"


# States that count towards uptime: degraded is slow but serving.
COUNTED_STATES = (CheckState.UP, CheckState.DEGRADED, CheckState.DOWN)
SERVING_STATES = (CheckState.UP, CheckState.DEGRADED)

MIN_INTERVAL_SECONDS = 1
MAX_INTERVAL_SECONDS = 86400
MAX_TIMEOUT_SECONDS = 300
MAX_RETRIES = 10
MAX_BODY_BYTES = 1024 * 1024  # an HTTP check reads at most this much of the answer
MAX_REDIRECTS = 5
RECENT_RESULTS = 30  # response times kept on the check for the list's sparkline
DNS_RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SRV", "CAA", "PTR", "SOA")
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
UPTIME_BAR_DAYS = 90
