import asyncio
import threading
import time


class ConcurrencyModel:
    """Answers how many user calls have run at once so far, and on how many threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.threads = set()

    def _enter(self):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.get_ident())

    def _leave(self):
        with self.lock:
            self.running -= 1
        return {"most_at_once": self.most, "threads": len(self.threads)}

    def predict(self, X, features_names=None):
        self._enter()
        time.sleep(0.05)
        return self._leave()


class AsyncConcurrencyModel(ConcurrencyModel):
    async def predict(self, X, features_names=None):
        self._enter()
        await asyncio.sleep(0.05)
        return self._leave()
