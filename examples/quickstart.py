"""A small in-code capture: a training-like workflow with tasks, a failure and a campaign.

Run it, then `kg list` and `kg show 1`."""
from __future__ import annotations

import argparse
import math
import random

import capture


@capture.task(output_names=["mean", "std"])
def summarize(samples: list[float]) -> tuple[float, float]:
    mean = sum(samples) / len(samples)
    return mean, math.sqrt(sum((s - mean) ** 2 for s in samples) / len(samples))


@capture.task(output_names="samples", tags=["data"])
def simulate(n: int, seed: int = 42) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(0.0, 1.0) for _ in range(n)]


@capture.task(output_names="loss")
def train_step(epoch: int, lr: float, mean: float) -> float:
    if lr <= 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    return abs(mean) / (1 + epoch * lr)


@capture.workflow(name="quickstart", campaign="demo-campaign")
def main(args: argparse.Namespace) -> None:
    samples = simulate(args.n)
    mean, std = summarize(samples)
    for epoch in range(args.epochs):
        loss = train_step(epoch, args.lr, mean)
        print(f"epoch {epoch}: loss={loss:.4f}")
    with capture.Task("report", used={"mean": mean, "std": std}) as t:
        t.end(generated={"text": f"mean={mean:.3f} std={std:.3f}"})
    try:
        train_step(0, 0.0, mean)
    except ValueError as exc:
        print(f"(recorded failing task: {exc})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.1)
    main(parser.parse_args())
