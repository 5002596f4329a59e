class MetricsModel:
    """MODEL exposing custom metrics (COUNTER, GAUGE, TIMER) and tags.

    Values are constants so that recorded answers are deterministic.
    """

    def predict(self, X, features_names=None, **kwargs):
        return X

    def metrics(self):
        return [
            {"type": "COUNTER", "key": "acc_counter_total", "value": 1},
            {"type": "GAUGE", "key": "acc_gauge", "value": 42.5},
            {"type": "TIMER", "key": "acc_timer", "value": 20.2},
            {"type": "COUNTER", "key": "acc_tagged_counter", "value": 2, "tags": {"colour": "blue"}},
        ]

    def tags(self):
        return {"model_tag": "metrics-model", "version": "1"}
