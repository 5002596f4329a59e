class BadMetricModel:
    def predict(self, X, feature_names):
        return X

    def metrics(self):
        return [{"type": "HISTOGRAM", "key": "nope", "value": 1}]
