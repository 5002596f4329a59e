"""W2 for modelserve and seldon-core: a logistic regression fitted on iris at start, answering predict_proba."""

from typing import Any

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


class IrisModel:
    def __init__(self) -> None:
        features, target = load_iris(return_X_y=True)
        self.model = LogisticRegression(max_iter=1000).fit(features, target)

    def predict(self, X: Any, feature_names: Any, **kwargs: Any) -> Any:
        return self.model.predict_proba(X)
