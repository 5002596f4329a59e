import time


class BusyModel:
    """predict sleeps for strData seconds and echoes it; health_status answers at once."""

    def predict(self, X, features_names=None):
        if isinstance(X, str):
            time.sleep(float(X))
        return X

    def health_status(self):
        return {"healthy": True}
