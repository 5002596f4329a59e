"""Fit the iris classifier (multinomial logistic regression, plain numpy) into weights.json.

python train.py
"""

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
SPECIES = ["setosa", "versicolor", "virginica"]


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    rows = (HERE / "iris.csv").read_text().splitlines()[1:]  # the first line is a header
    data = np.array([[float(v) for v in row.split(",")] for row in rows if row])
    return data[:, :4], data[:, 4].astype(int)


def fit(X: np.ndarray, y: np.ndarray, steps: int = 3000, rate: float = 0.5) -> dict:
    mean, scale = X.mean(axis=0), X.std(axis=0)
    Z = (X - mean) / scale
    onehot = np.eye(len(SPECIES))[y]
    W = np.zeros((X.shape[1], len(SPECIES)))
    b = np.zeros(len(SPECIES))
    for _ in range(steps):
        logits = Z @ W + b
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        grad = p - onehot
        W -= rate * (Z.T @ grad / len(Z) + 1e-3 * W)
        b -= rate * grad.mean(axis=0)
    return {"mean": mean.tolist(), "scale": scale.tolist(), "weights": W.tolist(), "bias": b.tolist()}


if __name__ == "__main__":
    X, y = load_iris()
    model = fit(X, y)
    (HERE / "weights.json").write_text(json.dumps(model, indent=1) + "\n")
    Z = (X - np.array(model["mean"])) / np.array(model["scale"])
    accuracy = ((Z @ np.array(model["weights"]) + model["bias"]).argmax(axis=1) == y).mean()
    print(f"training accuracy {accuracy:.3f}; wrote weights.json")
