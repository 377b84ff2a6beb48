"""Distributed capture: send this process's records to a Redis Stream (kg.stores.redis_stream); ``kg consume`` stores them."""
from __future__ import annotations

from typing import Any

from kg.stores.redis_stream import (DEFAULT_STREAM, RECORDS_FIELD, RedisStreamStore, is_redis_uri, open_redis_store,
                                    split_stream_uri)

__all__ = ["RedisStreamStore", "open_redis_store", "publish_to", "is_redis_uri", "split_stream_uri", "DEFAULT_STREAM",
           "RECORDS_FIELD"]


def publish_to(uri: str, **sink_options: Any) -> Any:
    """Send this process's capture to a Redis Stream (what ``KG_STORE=redis://...`` selects); returns the sink."""
    from kg.sink import Sink, set_sink

    sink = Sink(RedisStreamStore(uri), **sink_options)
    set_sink(sink)
    return sink
