"""Signals other apps listen to (sent by the store writer, after the data is committed)."""

from django.dispatch import Signal

# Sent once per ingested batch, after commit.
# kwargs: ``series_ids`` (list[int], each series once), ``metrics`` (set[str])
samples_ingested = Signal()
