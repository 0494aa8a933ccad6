"""lib.realtime publishes in the channel layer's own wire format."""

from channels.layers import get_channel_layer

from lib.realtime import layer_message


def test_a_broadcast_message_is_encoded_exactly_as_the_channel_layer_encodes_it():
    # broadcast() encodes without the layer object; a consumer decodes with the layer.
    message = {"type": "stream.message", "topic": "system-metrics", "id": 17, "raw": b'{"cpu": 1.5}'}
    layer = get_channel_layer()
    assert layer_message(message) == layer.serialize(message)
    assert layer.deserialize(layer_message(message)) == message
