"""PyTorch: every forward call of an instrumented model becomes a Task with input/output shapes.

Run:  python examples/adapters/torch_forward.py   then   kg show 1
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.optim as optim

import capture


@capture.instrument  # records MyNet.forward calls
class MyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(10, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def main(epochs: int = 3) -> list[float]:
    torch.manual_seed(0)
    x, y = torch.randn(100, 10), torch.randn(100, 1)
    model = MyNet()
    opt = optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.MSELoss()
    losses = []
    with capture.Run(name="torch-example"):
        loop = capture.Loop(range(epochs), name="epochs", item_name="epoch")
        for epoch in loop:
            opt.zero_grad()
            loss = loss_fn(model(x), y)  # the forward call is a Task nested under the loop
            loss.backward()
            opt.step()
            losses.append(loss.item())
            loop.end_iter({"loss": loss.item()})
    return losses


if __name__ == "__main__":
    for e, loss in enumerate(main()):
        print(f"epoch {e}: loss {loss:.4f}")
