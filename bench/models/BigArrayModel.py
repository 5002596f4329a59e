"""bench/memory.py's model for modelserve and seldon-core: ~500 MB of numpy arrays made in load(), predict returns X."""

from typing import Any

import numpy as np

MODEL_BYTES = 500 * 2**20
CHUNKS = 10


class BigArrayModel:
    def __init__(self) -> None:
        self.arrays: list[np.ndarray] = []

    def load(self) -> None:
        # Random data, not zeros: every page is written, so it is resident (and not the shared zero page).
        rng = np.random.default_rng(0)
        self.arrays = [rng.random(MODEL_BYTES // CHUNKS // 8) for _ in range(CHUNKS)]

    def predict(self, X: Any, features_names: Any = None, **kwargs: Any) -> Any:
        return X
