import threading
import time


class SlowModel:
    """Sleeps for strData seconds; jsonData answers how many calls overlapped and on which thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.threads = set()

    def predict(self, X, feature_names):
        if isinstance(X, dict):
            return {"peak": self.peak, "threads": len(self.threads)}
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.threads.add(threading.get_ident())
        time.sleep(float(X))
        with self.lock:
            self.running -= 1
        return X
