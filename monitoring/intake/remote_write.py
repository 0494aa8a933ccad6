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
    # Wire-compatible views that read a request with a few C calls and no Python call per
    # series. Keys: series that know only their labels (samples, exemplars, native histograms
    # become unknown fields), discarded, serialized whole, read back with each series as one
    # ``bytes`` — its key. Samples: the same with samples only; each series' part tells how
    # many samples it has, and "Flat", whose ``timeseries`` is a singular field (protobuf merges
    # repeats of one: every series' samples, in order, in one list), gives them all at once.
    message("LabelsOnlyTimeSeries", ("labels", 1, _F.TYPE_BYTES, many, ""))
    message("LabelsOnlyWriteRequest", ("timeseries", 1, _F.TYPE_MESSAGE, many, ".seismo.prompb.LabelsOnlyTimeSeries"))
    message("SamplesOnlyTimeSeries", ("samples", 2, _F.TYPE_MESSAGE, many, ".seismo.prompb.Sample"))
    message("SamplesOnlyWriteRequest", ("timeseries", 1, _F.TYPE_MESSAGE, many, ".seismo.prompb.SamplesOnlyTimeSeries"))
    message("FlatWriteRequest", ("timeseries", 1, _F.TYPE_MESSAGE, one, ".seismo.prompb.SamplesOnlyTimeSeries"))
    # The same merge one level down: a series' samples as one singular message whose two fields
    # are repeated, so every sample's value (and timestamp) lands in one list, in order. A
    # proto3 encoder leaves out a zero value or timestamp, so the lists are the present ones.
    message("SampleColumns", ("value", 1, _F.TYPE_DOUBLE, many, ""), ("timestamp", 2, _F.TYPE_INT64, many, ""))
    message("ColumnsTimeSeries", ("samples", 2, _F.TYPE_MESSAGE, one, ".seismo.prompb.SampleColumns"))
    message("ColumnsWriteRequest", ("timeseries", 1, _F.TYPE_MESSAGE, one, ".seismo.prompb.ColumnsTimeSeries"))
    message("PartsWriteRequest", ("timeseries", 1, _F.TYPE_BYTES, many, ""))
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
_LabelSet = _class("LabelSet")
_LabelsOnlyWriteRequest = _class("LabelsOnlyWriteRequest")
_SamplesOnlyWriteRequest = _class("SamplesOnlyWriteRequest")
_FlatWriteRequest = _class("FlatWriteRequest")
_ColumnsWriteRequest = _class("ColumnsWriteRequest")
_PartsWriteRequest = _class("PartsWriteRequest")
_SAMPLE_TAG = 0x12  # field 2, length-delimited: a series' sample
_VALUE_TAG = 0x09  # field 1, 64-bit: a sample's value


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


def _wire(view: Any) -> bytes:
    """A parsed view serialized again without its unknown fields."""
    view.DiscardUnknownFields()
    return view.SerializeToString()


def _parts(wire: bytes) -> list[bytes]:
    """Each series of a serialized request, as the bytes of its fields."""
    return list(_PartsWriteRequest.FromString(wire).timeseries)


def _one_sample_each(parts: list[bytes]) -> tuple[np.ndarray, np.ndarray] | None:
    """When every series' samples part holds exactly one sample — its tag, a one-byte length (a
    Sample without unknown fields is at most 20 bytes) and nothing after it — which samples
    carry a value and which a timestamp (a proto3 encoder leaves zeros out); else None.

    The parts are protobuf's own serialization of a parsed view (fields in number order, each at
    most once), so a sample's first byte says whether its value (field 1, a fixed 8 bytes)
    is there, and whatever follows it is the timestamp."""
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    if not lengths.all():
        return None
    joined = np.frombuffer(b"".join(parts), dtype=np.uint8)
    starts = np.cumsum(lengths) - lengths
    if not ((joined[starts] == _SAMPLE_TAG) & (lengths == 2 + joined[starts + 1].astype(np.int64))).all():
        return None
    size = lengths - 2
    has_value = size > 0
    has_value[has_value] = joined[starts[has_value] + 2] == _VALUE_TAG
    has_timestamp = size > np.where(has_value, 9, 0)
    return has_value, has_timestamp


def _present(present: np.ndarray, found: Any, dtype: type) -> np.ndarray | None:
    """A column with the values found where ``present``, zero elsewhere; None when they disagree."""
    if len(found) != int(present.sum()):
        return None
    column = np.zeros(len(present), dtype=dtype)
    column[present] = np.asarray(found, dtype=dtype)
    return column


def decode(body: bytes) -> Columns:
    """A remote-write body as columns; raises DoorError (a 4xx, don't retry) when it is not one."""
    raw = decompress(body)
    try:
        samples_only = _SamplesOnlyWriteRequest.FromString(raw)
        labels_only = _LabelsOnlyWriteRequest.FromString(raw)
    except DecodeError as exc:
        raise DoorError(f"body is not a protobuf WriteRequest: {exc}") from None
    keys = _parts(_wire(labels_only))
    samples_wire = _wire(samples_only)
    presence = _one_sample_each(_parts(samples_wire))
    if presence is not None:  # as Prometheus sends: both columns come from protobuf's own lists
        merged = _ColumnsWriteRequest.FromString(samples_wire).timeseries.samples
        values = _present(presence[0], merged.value, np.float64)
        stamps = _present(presence[1], merged.timestamp, np.int64)
        if values is not None and stamps is not None:
            return Columns(
                keys=keys,
                decode=decode_labels,
                series_index=np.arange(len(keys), dtype=np.int64),
                ts_ms=stamps,
                values=values,
            )
    counts = np.asarray([len(item.samples) for item in samples_only.timeseries], dtype=np.int64)
    samples = _FlatWriteRequest.FromString(samples_wire).timeseries.samples
    return Columns(
        keys=keys,
        decode=decode_labels,
        series_index=np.repeat(np.arange(len(keys), dtype=np.int64), counts),
        ts_ms=np.asarray([sample.timestamp for sample in samples], dtype=np.int64),
        values=np.asarray([sample.value for sample in samples], dtype=np.float64),
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
