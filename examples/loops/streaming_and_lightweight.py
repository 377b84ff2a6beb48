"""Loops: one Task per iteration, streamed (Loop) or sent in one batch at the end (LightweightLoop).

Run:  python examples/loops/streaming_and_lightweight.py   then   kg show 1
"""
from __future__ import annotations

import itertools
import time

import capture


def main() -> None:
    with capture.Run(name="loops-example"):
        # Streaming: iterations reach the store while the loop runs; memory stays constant.
        loop = capture.Loop(range(5), name="train_loop", item_name="epoch")
        for epoch in loop:
            loss = 0.1 * (5 - epoch)
            time.sleep(0.01)
            loop.end_iter({"loss": loss})

        # A plain iterator is never materialised; items_length is recorded when given.
        stream = itertools.islice(itertools.count(), 0, 100)
        squares = capture.Loop(stream, name="squares", item_name="i", items_length=100)
        for i in squares:
            squares.end_iter({"v": i * i})

        # Lightweight: the lowest overhead, one batch when the loop ends, no per-iteration times.
        batches = capture.LightweightLoop([0, 1, 2, 3, 4], name="eval_loop", item_name="batch")
        for batch in batches:
            batches.end_iter({"metric": batch * 2})

        # Per-iteration telemetry (CPU, memory, disk, network at the end of each iteration).
        tele = capture.Loop(range(3), name="with_telemetry", telemetry=True)
        for _ in tele:
            sum(range(100_000))


if __name__ == "__main__":
    main()
    print("done: try `kg show 1`")
