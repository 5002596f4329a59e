import numpy as np

from modelserve import SeldonResponse


class ScoringModel:
    """Every optional method of the contract, with recognisable answers."""

    class_names = ["low", "high"]

    def __init__(self, offset=0.0):
        self.offset = offset
        self.loaded = False

    def load(self):
        self.loaded = True

    def predict(self, X, feature_names, meta=None):
        if isinstance(X, np.ndarray) and X.dtype.kind in "iuf":
            return np.column_stack([X.sum(axis=-1) + self.offset, X.max(axis=-1)])
        return X

    def transform_input(self, X, feature_names, meta=None):
        return X + 1

    def transform_output(self, X, feature_names, meta=None):
        return SeldonResponse(X * 10, tags={"runtime": "yes"}, metrics=[{"type": "GAUGE", "key": "scale", "value": 10}])

    def route(self, X, feature_names):
        return int(X.ravel()[0] > 0)

    def aggregate(self, features_list, feature_names_list):
        return np.mean(np.stack(features_list), axis=0)

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        return [[reward, -1 if routing is None else routing]]

    def health_status(self):
        return {"loaded": self.loaded}

    def metrics(self):
        return [{"type": "COUNTER", "key": "calls", "value": 1}]

    def tags(self):
        return {"model": "scoring"}

    def init_metadata(self):
        return {"name": "scoring", "versions": ["1"], "inputs": [{"name": "x", "datatype": "FP64", "shape": [-1, 2]}]}
