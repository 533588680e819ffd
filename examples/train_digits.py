"""Train one small network per neuron type on scikit-learn's digits and ship it.

    python examples/train_digits.py            # all five: snu ssnu src iaf lif
    python examples/train_digits.py iaf lif    # some of them

Input: the 8x8 digits scaled to [0, 1] and rate-coded into T = 20 Bernoulli steps (a fresh draw
every epoch; the test set is drawn once, with seed 0, and saved to examples/data/digits_test.npz).
Each network is 64-128-10; the prediction is the argmax of the output summed over time.
Writes examples/models/digits_<kind>.pt (torch.save of the whole model).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import neurodeploy.nn as ndnn
from neurodeploy.io.data import encode

HERE = Path(__file__).parent
TIMESTEPS = 20
HIDDEN = 128
EPOCHS = 60


def build(kind: str) -> nn.Sequential:
    """The 64-128-10 network of one neuron type."""
    if kind == "snu":
        return nn.Sequential(nn.Linear(64, HIDDEN), ndnn.SNU(HIDDEN), nn.Linear(HIDDEN, 10), ndnn.SNU(10))
    if kind == "ssnu":
        model = nn.Sequential(nn.Linear(64, HIDDEN), ndnn.SoftSNU(HIDDEN), nn.Linear(HIDDEN, 10),
                              ndnn.SoftSNU(10))
        with torch.no_grad():  # positive drive at start: the ReLU membrane of sSNU can die otherwise
            model[0].bias.fill_(0.5)
            model[2].bias.fill_(1.0)
        return model
    if kind == "src":
        return nn.Sequential(nn.Linear(64, HIDDEN), ndnn.SRC(HIDDEN), nn.Linear(HIDDEN, 10),
                             ndnn.LI(alpha=0.9))
    if kind == "iaf":
        return nn.Sequential(nn.Linear(64, HIDDEN), ndnn.IAF(), nn.Linear(HIDDEN, 10), ndnn.IAF())
    if kind == "lif":
        return nn.Sequential(nn.Linear(64, HIDDEN), ndnn.LIF(beta=0.9), nn.Linear(HIDDEN, 10),
                             ndnn.LIF(beta=0.9))
    raise ValueError(f"unknown kind {kind!r}")


def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    digits = load_digits()
    images = (digits.data / 16.0).astype(np.float32)
    return train_test_split(images, digits.target, test_size=0.3, random_state=0,
                            stratify=digits.target)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).sum(0).argmax(-1) == y).float().mean())


def train(kind: str, x_train: np.ndarray, y_train: np.ndarray) -> nn.Sequential:
    torch.manual_seed(0)
    generator = np.random.default_rng(1)
    model = build(kind)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, EPOCHS)
    labels = torch.as_tensor(y_train)
    for _ in range(EPOCHS):
        spikes = torch.as_tensor(encode(x_train, TIMESTEPS, "rate", seed=int(generator.integers(1 << 30))))
        order = torch.randperm(len(labels))
        for start in range(0, len(order), 64):
            batch = order[start : start + 64]
            logits = model(spikes[:, batch]).sum(0)
            loss = nn.functional.cross_entropy(logits, labels[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        schedule.step()
    return model.eval()


def main(kinds: list[str]) -> None:
    x_train, x_test, y_train, y_test = split()
    test_spikes = encode(x_test, TIMESTEPS, "rate", seed=0)
    (HERE / "data").mkdir(exist_ok=True)
    (HERE / "models").mkdir(exist_ok=True)
    np.savez_compressed(HERE / "data" / "digits_test.npz", x=test_spikes.astype(np.uint8),
                        y=y_test.astype(np.int64))
    x_eval, y_eval = torch.as_tensor(test_spikes), torch.as_tensor(y_test)
    for kind in kinds:
        started = time.perf_counter()
        model = train(kind, x_train, y_train)
        torch.save(model, HERE / "models" / f"digits_{kind}.pt")
        print(f"{kind:5s} test accuracy {accuracy(model, x_eval, y_eval):.4f} "
              f"({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["snu", "ssnu", "src", "iaf", "lif"])
