"""W1/W2/W3 for MLServer: ``MLModel`` subclasses answering one FP64 tensor with one FP64 tensor."""

from __future__ import annotations

from typing import Any

import numpy as np
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class IdentityModel(MLModel):
    async def load(self) -> bool:
        return True

    def compute(self, array: np.ndarray) -> Any:
        return array

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        array = NumpyCodec.decode_input(payload.inputs[0])
        result = np.asarray(self.compute(array), dtype=np.float64)
        return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("output-0", result)])


class IrisModel(IdentityModel):
    async def load(self) -> bool:
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        features, target = load_iris(return_X_y=True)
        self.model = LogisticRegression(max_iter=1000).fit(features, target)
        return True

    def compute(self, array: np.ndarray) -> Any:
        return self.model.predict_proba(array)


class BigArrayModel(IdentityModel):
    """The start-up bench's: the identity holding 500 MiB of random arrays, as bench/models/BigArrayModel.py."""

    async def load(self) -> bool:
        rng = np.random.default_rng(0)
        self.arrays = [rng.random(500 * 2**20 // 10 // 8) for _ in range(10)]
        return True
