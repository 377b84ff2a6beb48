"""The Dask, MLflow and PyTorch adapters against the real libraries (the examples are what runs)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

import capture
from tests.capture_ext.conftest import require_extra

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "adapters"


def _example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"kg_example_{name}", EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dask pickles functions by module: keep it importable by name
    spec.loader.exec_module(mod)
    return mod


def _run_of(store: Any, name: str) -> Any:
    return next(r for r in store.runs() if r.props.get("name") == name)


def test_torch_forward_calls_are_tasks(strict_sink: Any, store: Any) -> None:
    require_extra("torch", "torch")
    losses = _example("torch_forward").main(epochs=3)
    assert len(losses) == 3
    capture.flush()
    run = _run_of(store, "torch-example")
    fwd = [n for n in store.find_nodes(run=run.id, kind="Task") if n.props["name"] == "MyNet.forward"]
    assert len(fwd) == 3
    for n in fwd:
        assert n.props["used"]["x"]["shape"] == [100, 10] and n.props["used"]["x"]["dtype"] == "torch.float32"
        assert n.props["generated"]["result"]["shape"] == [100, 1]
        assert n.props["metadata"]["module"].endswith("MyNet")
    loop = next(iter(store.find_nodes(run=run.id, kind="Loop")))
    assert all(n.props["parent"] == loop.id for n in fwd)


def test_torch_instance_and_submodules(strict_sink: Any, store: Any) -> None:
    require_extra("torch", "torch")
    import torch
    import torch.nn as nn

    model = capture.instrument(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), submodules=True)
    with capture.Run(name="seq") as run:
        out = model(torch.randn(2, 4))
    assert out.shape == (2, 3)
    nodes = {n.props["name"]: n for n in store.find_nodes(run=run.id, kind="Task")}
    assert set(nodes) == {"Sequential.forward", "Linear(0).forward", "ReLU(1).forward"}
    top = nodes["Sequential.forward"]
    assert top.props["metadata"]["parameters"] == 4 * 3 + 3
    assert nodes["Linear(0).forward"].props["parent"] == top.id  # submodule calls nest under the parent call
    with pytest.raises(Exception):
        capture.instrument(object())


def test_dask_tasks_with_inputs_outputs_worker_and_timing(strict_sink: Any, store: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    require_extra("distributed", "dask")
    import importlib
    import os

    # Worker processes unpickle the example's functions by module name: make it importable there too.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(EXAMPLES), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.syspath_prepend(str(EXAMPLES))
    example = importlib.import_module("dask_graph")
    assert example.main(workers=2) == 5
    capture.flush()
    run = _run_of(store, "dask-example")
    tasks = list(store.find_nodes(run=run.id, kind="Task"))
    by_name: dict[str, list[Any]] = {}
    for t in tasks:
        by_name.setdefault(t.props["name"], []).append(t)
    assert len(by_name["inc"]) == 2 and len(by_name["add"]) == 1
    add = by_name["add"][0]
    assert add.props["worker"].startswith("tcp://") and add.props["started"] <= add.props["ended"]
    assert add.props["generated"]["result"]["type"] == "int"
    assert sorted(v["dask_key"] for v in add.props["used"].values()) == sorted(t.props["dask_key"]
                                                                               for t in by_name["inc"])
    assert {t.props["used"]["arg0"] for t in by_name["inc"]} == {1, 2}
    # lineage: add USED the outputs of both inc tasks, and ran on a Worker agent
    used = {e.dst for e in store.find_edges(src=add.id, rel="USED")}
    assert {f"{t.id}/out/result" for t in by_name["inc"]} <= used
    workers = [e.dst for e in store.find_edges(src=add.id, rel="WAS_ASSOCIATED_WITH")]
    assert workers and store.get_node(workers[0]).kind == "Worker"


def test_mlflow_runs_params_metrics_artifacts(strict_sink: Any, store: Any, tmp_path: Path) -> None:
    require_extra("mlflow", "mlflow")
    assert _example("mlflow_observe").main(str(tmp_path)) == 2
    capture.flush()
    run = _run_of(store, "mlflow-example")
    runs = {n.props["name"]: n for n in store.find_nodes(run=run.id, kind="Task")}
    assert set(runs) == {"lr=0.1", "lr=0.01"}
    r = runs["lr=0.1"]
    assert r.props["used"] == {"lr": "0.1"} and r.props["status"] == "FINISHED"
    assert r.props["generated"]["loss"] == pytest.approx(0.9 ** 5)
    assert r.props["metric_steps"]["loss"] == {"count": 5, "last_step": 4}
    assert r.props["experiment"] == "demo" and r.props["parent"] == run.id
    arts = [e.src for e in store.find_edges(dst=r.id, rel="WAS_GENERATED_BY")]
    assert [store.get_node(a).props["path"] for a in arts] == ["model-0.1.txt"]
