"""What each worker is doing, in memory the supervisor shares with every worker it forks.

Per worker slot, a state and a heartbeat:
- the state: a worker marks its slot SERVING once its transport is listening, and LEAVING
  when it recycles itself (``--max-requests``: the supervisor then starts its replacement
  before it has drained); the supervisor clears the slot when the worker exits.
  Readiness asks whether every kind of worker the server was configured with (REST,
  gRPC) has at least one serving: a server whose gRPC workers all crash reports not
  ready on REST too;
- the heartbeat: the time (``time.monotonic``, one clock for every process) at which the
  worker last saw itself healthy, i.e. its event loop running and no user call running
  past ``--worker-timeout``.  The supervisor replaces a worker whose heartbeat is older.

Each value is written by one process at a time, so no lock is needed.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Sequence

NOT_SERVING, SERVING, LEAVING = 0, 1, 2
_BEAT = struct.Struct("d")


class WorkerBoard:
    def __init__(self, kinds: Sequence[str]):
        """``kinds``: the kind of every slot, in slot order (made before the first fork)."""
        self.kinds = list(kinds)
        count = max(1, len(self.kinds))
        self._beats_at = -(-count // 8) * 8  # heartbeats after the states, aligned
        self._memory = mmap.mmap(-1, self._beats_at + _BEAT.size * count)  # anonymous and shared with children
        self._by_kind: dict[str, list[int]] = {}
        for index, kind in enumerate(self.kinds):
            self._by_kind.setdefault(kind, []).append(index)

    def set(self, index: int, state: int) -> None:
        self._memory[index] = state

    def state(self, index: int) -> int:
        return self._memory[index]

    def beat(self, index: int, when: float) -> None:
        _BEAT.pack_into(self._memory, self._beats_at + _BEAT.size * index, when)

    def last_beat(self, index: int) -> float:
        return float(_BEAT.unpack_from(self._memory, self._beats_at + _BEAT.size * index)[0])

    def all_kinds_serving(self) -> bool:
        """Whether every configured kind of worker has at least one serving."""
        memory = self._memory
        return all(any(memory[i] == SERVING for i in indexes) for indexes in self._by_kind.values())

    def close(self) -> None:
        self._memory.close()
