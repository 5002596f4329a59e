import os
import time


class PidModel:
    """Answers which process served the call; strData "sleep:S" sleeps S seconds first."""

    def __init__(self):
        self.constructed_in = os.getpid()
        self.loaded_in = None

    def load(self):
        self.loaded_in = os.getpid()

    def predict(self, X, feature_names):
        if isinstance(X, str) and X.startswith("sleep:"):
            time.sleep(float(X.split(":", 1)[1]))
        return {"pid": os.getpid(), "constructed_in": self.constructed_in, "loaded_in": self.loaded_in}
