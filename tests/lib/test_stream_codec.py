"""Property tests: whatever batches a topic publishes, a client decodes exactly what was sent."""

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.streamcodec import Decoder, Encoder, UnknownSchemaError, pack

names = st.sampled_from(["cpu", "mem", "req_total", "lat_ms"])
labels = st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=12), max_size=3)
values = st.floats(allow_nan=False, allow_infinity=False, width=64) | st.integers(-(2**53), 2**53)
sample = st.fixed_dictionaries({"metric": names, "labels": labels, "value": values})
batches = st.lists(st.lists(sample, max_size=6), min_size=1, max_size=12)
topics = st.sampled_from(["system-metrics", "cache-metrics"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(topics, st.lists(sample, max_size=6), st.booleans()), min_size=1, max_size=20))
def test_encode_then_decode_gives_back_every_batch(sequence):
    encoder, decoder = Encoder(), Decoder()
    for i, (topic, samples, rejoin) in enumerate(sequence):
        if rejoin:  # an unsubscribe + subscribe in between
            encoder.forget(topic)
        frame = {"type": topic, "topic": topic, **encoder.encode(topic, pack(float(i), samples))}
        wire = orjson.loads(orjson.dumps(frame))  # what the socket carries
        decoded = decoder.decode(wire)
        expected = [{"metric": s["metric"], "labels": s["labels"], "value": s["value"]} for s in samples]
        assert decoded["samples"] == expected and decoded["ts"] == float(i)
        assert "series" not in decoded and "values" not in decoded


@given(batches)
def test_an_unchanged_batch_shape_sends_its_labels_once(sequence):
    encoder = Encoder()
    shape = sequence[0]
    frames = [encoder.encode("t", pack(0.0, [{**s, "value": n} for s in shape])) for n in range(len(sequence))]
    assert "series" in frames[0] and all("series" not in f for f in frames[1:])
    if any(s["labels"] for s in shape):
        assert all(len(orjson.dumps(f)) < len(orjson.dumps(frames[0])) for f in frames[1:])


def test_a_frame_naming_an_unknown_schema_is_refused():
    frame = {"topic": "t", **Encoder().encode("t", pack(0.0, [{"metric": "m", "labels": {}, "value": 1}]))}
    frame.pop("series")
    with pytest.raises(UnknownSchemaError, match="no schema"):
        Decoder().decode(frame)


def test_frames_that_are_not_batches_pass_through():
    alert = {"type": "alert", "topic": "alert", "alert": {"id": 1}}
    assert Encoder().encode("alert", alert) is alert and Decoder().decode(alert) is alert
