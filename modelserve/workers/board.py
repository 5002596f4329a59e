"""Which workers are serving, in memory the supervisor shares with every worker it forks.

A worker marks its slot SERVING once its transport is listening, and LEAVING when it
recycles itself (``--max-requests``: the supervisor then starts its replacement before it
has drained); the supervisor clears the slot when the worker exits.  Readiness then
asks whether every kind of worker the server was configured with (REST, gRPC) has at
least one serving: a server whose gRPC workers all
crash reports not ready on REST too.  One byte per slot, written by one process at a
time, so no lock is needed.
"""

from __future__ import annotations

import mmap
from collections.abc import Sequence

NOT_SERVING, SERVING, LEAVING = 0, 1, 2


class WorkerBoard:
    def __init__(self, kinds: Sequence[str]):
        """``kinds``: the kind of every slot, in slot order (made before the first fork)."""
        self.kinds = list(kinds)
        self._memory = mmap.mmap(-1, max(1, len(self.kinds)))  # anonymous and shared with children
        self._by_kind: dict[str, list[int]] = {}
        for index, kind in enumerate(self.kinds):
            self._by_kind.setdefault(kind, []).append(index)

    def set(self, index: int, state: int) -> None:
        self._memory[index] = state

    def state(self, index: int) -> int:
        return self._memory[index]

    def all_kinds_serving(self) -> bool:
        """Whether every configured kind of worker has at least one serving."""
        memory = self._memory
        return all(any(memory[i] == SERVING for i in indexes) for indexes in self._by_kind.values())

    def close(self) -> None:
        self._memory.close()
