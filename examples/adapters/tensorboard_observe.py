"""TensorBoard: a small PyTorch training run's scalars, hparams and checkpoint observed into the graph.

Run:  python examples/adapters/tensorboard_observe.py [LOGDIR]   then   kg show 1
"""
from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import torch
import torch.nn as nn
from torch.utils.tensorboard import SummaryWriter

import capture
from capture.adapters.tensorboard import TensorBoardObserver

EPOCHS, STEPS = 3, 4  # steps (batches) per epoch
HPARAMS = {"lr": 0.1, "batch_size": 16, "optimizer": "sgd"}


def train(logdir: str) -> dict[str, Any]:
    """Train a tiny classifier, logging to ``logdir``/train; returns what was written."""
    torch.manual_seed(0)
    x = torch.randn(STEPS * HPARAMS["batch_size"], 4)
    y = (x[:, 0] + x[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=HPARAMS["lr"])
    run_dir = os.path.join(logdir, "train")
    written: dict[str, dict[int, float]] = {"loss/train": {}, "accuracy/train": {}}
    with SummaryWriter(run_dir) as writer:
        step = 0
        for _epoch in range(EPOCHS):
            for xb, yb in zip(x.split(HPARAMS["batch_size"]), y.split(HPARAMS["batch_size"])):
                opt.zero_grad()
                out = model(xb)
                loss = nn.functional.cross_entropy(out, yb)
                loss.backward()
                opt.step()
                acc = (out.argmax(1) == yb).float().mean().item()
                writer.add_scalar("loss/train", loss.item(), step)
                writer.add_scalar("accuracy/train", acc, step)
                written["loss/train"][step], written["accuracy/train"][step] = loss.item(), acc
                step += 1
        checkpoint = os.path.join(run_dir, "model.pt")
        torch.save(model.state_dict(), checkpoint)
        final = {"hparam/loss": written["loss/train"][step - 1], "hparam/accuracy": written["accuracy/train"][step - 1]}
        writer.add_hparams(HPARAMS, final)  # a sub-run <train>/<timestamp>, as TensorBoard's HPARAMS tab wants
    return {"scalars": written, "hparams": HPARAMS, "final": final, "checkpoint": checkpoint}


def main(root: str) -> dict[str, Any]:
    logdir = os.path.join(root, "runs")
    with capture.Run(name="tensorboard-example"):
        # watches while training (every 0.5 s), syncs once more on exit
        with TensorBoardObserver(logdir).start(interval=0.5) as obs:
            written = train(logdir)
    written["runs_recorded"] = obs.runs_recorded
    written["logdir"] = logdir
    return written


if __name__ == "__main__":
    out = main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp())
    print("runs recorded:", out["runs_recorded"], "  logdir:", out["logdir"])
