"""@capture.task(telemetry=True): CPU, memory, disk and network readings at the start and end of each call.

Run:  python examples/loops/tasks_with_telemetry.py   then   kg show 1
"""
from __future__ import annotations

import capture


@capture.task(telemetry=True, output_names="total")
def crunch(n: int) -> int:
    return sum(i * i for i in range(n))


if __name__ == "__main__":
    with capture.Run(name="telemetry-example"):
        for n in (10_000, 100_000, 1_000_000):
            print(n, crunch(n))
