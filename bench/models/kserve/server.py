"""W1/W2/W3 for KServe: a ``kserve.Model`` per workload, answering V1 REST, V2 REST and V2 gRPC.

    python server.py --model_name identity|iris|big [kserve.ModelServer options, e.g. --http_port]

``big`` (the start-up bench) is the identity holding 500 MiB of random arrays, as bench/models/BigArrayModel.py.
"""

from __future__ import annotations

from typing import Any

import kserve
import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer


def fitted_iris() -> Any:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, target = load_iris(return_X_y=True)
    return LogisticRegression(max_iter=1000).fit(features, target)


class BenchModel(Model):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.model = fitted_iris() if name == "iris" else None  # picklable: --workers N spawns copies
        if name == "big":
            rng = np.random.default_rng(0)
            self.arrays = [rng.random(500 * 2**20 // 10 // 8) for _ in range(10)]
        self.ready = True

    def compute(self, array: np.ndarray) -> Any:
        return array if self.model is None else self.model.predict_proba(array)

    def predict(self, payload: Any, headers: Any = None, response_headers: Any = None) -> Any:
        if isinstance(payload, InferRequest):
            result = np.asarray(self.compute(payload.inputs[0].as_numpy()), dtype=np.float64)
            output = InferOutput(name="output-0", shape=list(result.shape), datatype="FP64")
            output.set_data_from_numpy(result, binary_data=False)
            return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=[output])
        return {"predictions": np.asarray(self.compute(np.asarray(payload["instances"]))).tolist()}


if __name__ == "__main__":
    ModelServer().start([BenchModel(kserve.model_server.args.model_name)])
