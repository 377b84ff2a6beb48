"""One of many producer processes feeding one run: ``python producer.py URL RUN_ID K N``.

Each process joins the run RUN_ID (``capture.Run(run_id=...)``) and records N tasks. With a
``redis://`` URL its records go to the Redis stream that ``kg consume`` stores; with any
other store URI (a .db path, ``jsonl://``, ``bolt://``) it writes to that store itself.

    kg consume --from redis://127.0.0.1:6379/0 --into .kg/kg.db &   # the persistence service
    for k in 1 2 3 4; do python producer.py redis://127.0.0.1:6379/0 RID $k 1000 & done
"""
import sys

import capture
from capture.stream import publish_to
from kg.sink import Sink, set_sink

url, run_id, k, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if url.startswith(("redis://", "rediss://", "unix://")):
    publish_to(url)
else:
    set_sink(Sink(url))


@capture.task(name="work")
def work(i, k):
    return i * k


with capture.Run(name=f"worker{k}", run_id=run_id):
    for i in range(n):
        work(i, k)
