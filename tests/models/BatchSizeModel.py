import threading
import time

import numpy as np


class BatchSizeModel:
    """MODEL answering, per input row, [its first value, how many rows this call got].

    Each call sleeps ``delay`` seconds (so that concurrent requests pile up) and records
    its number of rows in ``calls``.  A batch holding the value -1 raises; one holding -2
    answers one row too few; a 1-D input, or anything but an array, is echoed.
    """

    def __init__(self, delay=0.05):
        self.delay = float(delay)
        self.calls = []
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0

    def predict(self, X, features_names=None):
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._answer(X)
        finally:
            with self.lock:
                self.running -= 1

    def _answer(self, X):
        if not isinstance(X, np.ndarray) or X.ndim == 0:  # not a batch of rows: echoed
            self.calls.append(1)
            return X
        self.calls.append(len(X))
        if X.dtype.kind in "biuf" and (X == -1).any():
            raise ValueError("poisoned batch")
        if X.ndim == 1:
            return X
        answer = np.column_stack([X[:, 0].astype(float), np.full(len(X), float(len(X)))])
        if X.dtype.kind in "biuf" and (X == -2).any():
            return answer[:-1]
        return answer

    def tags(self):
        return {"model": "batch-size"}

    def metrics(self):
        return [{"type": "COUNTER", "key": "calls", "value": 1}]


class AsyncBatchSizeModel(BatchSizeModel):
    """The same, with an ``async def predict`` that awaits its delay (calls can overlap)."""

    async def predict(self, X, features_names=None):
        import asyncio

        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            await asyncio.sleep(self.delay)
            return self._answer(X)
        finally:
            self.running -= 1


class MetaBatchSizeModel(BatchSizeModel):
    """The same, taking the request's meta (requests with a meta run alone)."""

    def predict(self, X, features_names=None, meta=None):
        return super().predict(X, features_names)
