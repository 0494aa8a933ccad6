"""Signals other apps listen to (sent by the store writer, after the data is committed)."""

from django.dispatch import Signal

# Sent once per ingested batch, after commit.
# kwargs: ``series_ids`` (list[int]), ``metrics`` (set[str]), ``latest`` (dict series_id -> (ts, value))
samples_ingested = Signal()
