import os
import time


class CountedModel:
    """Answers the pid that served the call and reports custom metrics of every kind.

    strData "sleep:S" sleeps S seconds first; strData "bad-name" reports a metric whose
    key is not a Prometheus name.
    """

    def __init__(self):
        self.last = None

    def predict(self, X, feature_names):
        self.last = X
        if isinstance(X, str) and X.startswith("sleep:"):
            time.sleep(float(X.split(":", 1)[1]))
        return {"pid": os.getpid()}

    def metrics(self):
        if self.last == "bad-name":
            return [{"type": "COUNTER", "key": "bad-name", "value": 1}]
        return [
            {"type": "COUNTER", "key": "served", "value": 1},
            {"type": "COUNTER", "key": "weighted", "value": 2.5, "tags": {"colour": "blue"}},
            {"type": "GAUGE", "key": "last_pid", "value": os.getpid()},
            {"type": "TIMER", "key": "work_time", "value": 15.0},
        ]
