"""Dask: a scheduler plugin records each Dask task (function, inputs, output, worker, timing).

Run:  python examples/adapters/dask_graph.py   then   kg show 1
"""
from __future__ import annotations

import dask
from dask.distributed import Client, LocalCluster

import capture
from capture.adapters import dask as kg_dask


def inc(x: int) -> int:
    return x + 1


def add(x: int, y: int) -> int:
    return x + y


def main(workers: int = 2) -> int:
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client, capture.Run(name="dask-example"):
        kg_dask.instrument(client)
        a = dask.delayed(inc)(1)
        b = dask.delayed(inc)(2)
        total = dask.delayed(add)(a, b)
        return int(total.compute())


if __name__ == "__main__":
    print("result:", main())
