class NoDataModel:
    """Answers lists of ints where the request may have no data to mirror (health_status,
    send_feedback): the original answers those as tensors, of doubles on protobuf."""

    def predict(self, X, feature_names, **kwargs):
        return X

    def health_status(self):
        return [1, 2, 3]

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        return [[1, 2]]

    def metrics(self):
        return [{"type": "COUNTER", "key": "no_data_calls", "value": 1}, {"type": "GAUGE", "key": "level", "value": 2}]

    def tags(self):
        return {"n": 1}
