import time


class SleepModel:
    """MODEL: sleeps for strData seconds (in the event loop's executor if threaded), then echoes it."""

    def predict(self, X, features_names=None, **kwargs):
        if isinstance(X, str):
            time.sleep(float(X))
        return X
