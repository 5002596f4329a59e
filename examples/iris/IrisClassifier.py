"""An iris classifier served by modelserve: four measurements in, species probabilities out.

    modelserve serve IrisClassifier
    curl -s localhost:9000/api/v1.0/predictions -H 'Content-Type: application/json' \
        -d '{"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}'
"""

import json
from pathlib import Path

import numpy as np


class IrisClassifier:
    class_names = ["setosa", "versicolor", "virginica"]

    def __init__(self, weights_file: str = "weights.json"):
        self.weights_file = Path(__file__).parent / weights_file

    def load(self):
        model = json.loads(self.weights_file.read_text())
        self.mean = np.array(model["mean"])
        self.scale = np.array(model["scale"])
        self.weights = np.array(model["weights"])
        self.bias = np.array(model["bias"])

    def predict(self, X, features_names=None):
        X = np.asarray(X, dtype=float).reshape(-1, 4)
        logits = (X - self.mean) / self.scale @ self.weights + self.bias
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    def init_metadata(self):
        return {
            "name": "iris-classifier",
            "versions": ["1"],
            "platform": "numpy",
            "inputs": [{"name": "measurements", "datatype": "FP64", "shape": [-1, 4]}],
            "outputs": [{"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]}],
        }
