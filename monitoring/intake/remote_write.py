"""Prometheus remote-write 1.0: decode a snappy-compressed protobuf ``WriteRequest`` into columns.

The schema is our own small copy of prometheus/prompb (types.proto + remote.proto), built at
import time with ``descriptor_pb2`` so no generated code is checked in. Decoding uses
wire-compatible views of it in which a series' labels stay undecoded ``bytes`` inside protobuf:
the samples are read from one, and protobuf itself serializes every series' labels (and only
them) back into one ``bytes`` each — the series keys. The labels of a series Seismo has
already seen are then only a dictionary key (no per-label Python objects), and only a series
never seen before is decoded label by label with the full schema.
"""

from __future__ import annotations

from typing import Any

import cramjam
import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from monitoring.intake.columns import Columns, DoorError

# A decompressed WriteRequest may be at most this large (Prometheus sends ~2,000 samples, < 1 MB).
MAX_DECODED_BYTES = 64 * 1024 * 1024

_F = descriptor_pb2.FieldDescriptorProto


def _file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(name="seismo/prompb.proto", package="seismo.prompb", syntax="proto3")

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        msg = proto.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            added = msg.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                added.type_name = type_name

    one, many = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    message("Label", ("name", 1, _F.TYPE_STRING, one, ""), ("value", 2, _F.TYPE_STRING, one, ""))
    message("Sample", ("value", 1, _F.TYPE_DOUBLE, one, ""), ("timestamp", 2, _F.TYPE_INT64, one, ""))
    message(
        "TimeSeries",
        ("labels", 1, _F.TYPE_MESSAGE, many, ".seismo.prompb.Label"),
        ("samples", 2, _F.TYPE_MESSAGE, many, ".seismo.prompb.Sample"),
    )
    message(
        "MetricMetadata",
        ("type", 1, _F.TYPE_INT32, one, ""),
        ("metric_family_name", 2, _F.TYPE_STRING, one, ""),
        ("help", 4, _F.TYPE_STRING, one, ""),
        ("unit", 5, _F.TYPE_STRING, one, ""),
    )
    message(
        "WriteRequest",
        ("timeseries", 1, _F.TYPE_MESSAGE, many, ".seismo.prompb.TimeSeries"),
        ("metadata", 3, _F.TYPE_MESSAGE, many, ".seismo.prompb.MetricMetadata"),
    )
    # The same wire format, labels left as bytes (a length-delimited field either way); other
    # fields (exemplars, native histograms) are unknown here and dropped from the key.
    message(
        "LazyTimeSeries",
        ("labels", 1, _F.TYPE_BYTES, many, ""),
        ("samples", 2, _F.TYPE_MESSAGE, many, ".seismo.prompb.Sample"),
    )
    message("LazyWriteRequest", ("timeseries", 1, _F.TYPE_MESSAGE, many, ".seismo.prompb.LazyTimeSeries"))
    # The keys of a request in three C calls: parsed with series that know only their labels
    # (samples and the rest become unknown fields), discarded, serialized whole, then read
    # back with each series as one ``bytes`` — its key, with no Python call per series.
    message("LabelsOnlyTimeSeries", ("labels", 1, _F.TYPE_BYTES, many, ""))
    message("LabelsOnlyWriteRequest", ("timeseries", 1, _F.TYPE_MESSAGE, many, ".seismo.prompb.LabelsOnlyTimeSeries"))
    message("KeysWriteRequest", ("timeseries", 1, _F.TYPE_BYTES, many, ""))
    # A series key parsed back: its labels only.
    message("LabelSet", ("labels", 1, _F.TYPE_MESSAGE, many, ".seismo.prompb.Label"))
    return proto


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_file())


def _class(name: str) -> Any:
    return message_factory.GetMessageClass(_pool.FindMessageTypeByName(f"seismo.prompb.{name}"))


Label = _class("Label")
Sample = _class("Sample")
TimeSeries = _class("TimeSeries")
WriteRequest = _class("WriteRequest")
_LazyWriteRequest = _class("LazyWriteRequest")
_LabelSet = _class("LabelSet")
_LabelsOnlyWriteRequest = _class("LabelsOnlyWriteRequest")
_KeysWriteRequest = _class("KeysWriteRequest")


def decode_labels(key: bytes) -> tuple[str, dict[str, str]]:
    """(metric name, other labels) of a series from its serialized labels (the cache-miss path)."""
    labels: dict[str, str] = {}
    try:
        for label in _LabelSet.FromString(key).labels:
            if label.name in labels:
                raise ValueError(f"label {label.name!r} appears twice")
            labels[label.name] = label.value
    except DecodeError as exc:
        raise ValueError(f"labels are not valid protobuf/UTF-8: {exc}") from None
    name = labels.pop("__name__", "")
    if not name:
        raise ValueError("the series has no __name__ label")
    return name, labels


def decompress(body: bytes) -> bytes:
    """The protobuf inside a remote-write body (snappy block format, as the spec says)."""
    try:
        length = cramjam.snappy.decompress_raw_len(body)
    except Exception as exc:  # cramjam raises its own DecompressionError for any bad header
        raise DoorError(f"body is not snappy-compressed (block format): {exc}") from None
    if length > MAX_DECODED_BYTES:
        raise DoorError(f"the decompressed body would be {length} bytes; at most {MAX_DECODED_BYTES}", status=413)
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:
        raise DoorError(f"body is not snappy-compressed (block format): {exc}") from None


def decode(body: bytes) -> Columns:
    """A remote-write body as columns; raises DoorError (a 4xx, don't retry) when it is not one."""
    raw = decompress(body)
    request = _LazyWriteRequest()
    try:
        request.ParseFromString(raw)
    except DecodeError as exc:
        raise DoorError(f"body is not a protobuf WriteRequest: {exc}") from None
    series = request.timeseries
    lists = [item.samples for item in series]
    counts = list(map(len, lists))
    if counts.count(1) == len(counts):  # one sample per series, as Prometheus sends
        samples = [item[0] for item in lists]
    else:
        samples = [sample for item in lists for sample in item]
    values = [sample.value for sample in samples]
    stamps = [sample.timestamp for sample in samples]
    # A series' key is its labels as protobuf serializes them (no Python object per label).
    labels_only = _LabelsOnlyWriteRequest.FromString(raw)
    labels_only.DiscardUnknownFields()
    keys = list(_KeysWriteRequest.FromString(labels_only.SerializeToString()).timeseries)
    index = np.repeat(np.arange(len(keys), dtype=np.int64), np.asarray(counts, dtype=np.int64))
    return Columns(
        keys=keys,
        decode=decode_labels,
        series_index=index,
        ts_ms=np.asarray(stamps, dtype=np.int64),
        values=np.asarray(values, dtype=np.float64),
    )


def encode(series: list[tuple[dict[str, str], list[tuple[float, int]]]]) -> bytes:
    """A snappy WriteRequest for ``[(labels with __name__, [(value, ts_ms), ...]), ...]`` (tests, bench)."""
    request = WriteRequest()
    for labels, samples in series:
        item = request.timeseries.add()
        for name in sorted(labels):
            item.labels.add(name=name, value=labels[name])
        for value, ts in samples:
            item.samples.add(value=value, timestamp=ts)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
