"""MLflow: runs, params, metrics and artifacts of a tracking store observed into the graph.

Run:  python examples/adapters/mlflow_observe.py [TRACKING_DIR]   then   kg show 1
Uses a local file store (MLflow 3 wants MLFLOW_ALLOW_FILE_STORE=true for it; a
sqlite:///mlflow.db tracking URI works as well when alembic is installed).
"""
from __future__ import annotations

import os
import sys
import tempfile

os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

import mlflow  # noqa: E402

import capture  # noqa: E402
from capture.adapters.mlflow import MlflowObserver  # noqa: E402


def main(root: str) -> int:
    uri = f"file://{os.path.abspath(root)}/mlruns"
    mlflow.set_tracking_uri(uri)
    with capture.Run(name="mlflow-example"):
        with MlflowObserver(uri) as obs:  # watches while training, syncs once more on exit
            mlflow.set_experiment("demo")
            for lr in (0.1, 0.01):
                with mlflow.start_run(run_name=f"lr={lr}"):
                    mlflow.log_param("lr", lr)
                    loss = 1.0
                    for step in range(5):
                        loss *= 1 - lr
                        mlflow.log_metric("loss", loss, step=step)
                    path = os.path.join(root, f"model-{lr}.txt")
                    with open(path, "w") as fh:
                        fh.write(f"weights for lr={lr}\n")
                    mlflow.log_artifact(path)
    return obs.runs_recorded


if __name__ == "__main__":
    print("runs recorded:", main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()))
