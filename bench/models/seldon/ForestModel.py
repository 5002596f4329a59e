"""The batching bench's model: a random forest fitted at start on a synthetic dataset,
answering predict_proba.  Each call costs about the same for 1 row as for 64 (sklearn's
per-call overhead dominates), the case adaptive batching is for."""

from typing import Any

from bench.workloads import forest


class ForestModel:
    def __init__(self) -> None:
        self.model = forest()

    def predict(self, X: Any, feature_names: Any, **kwargs: Any) -> Any:
        return self.model.predict_proba(X)
