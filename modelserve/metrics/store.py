"""One process's metric values, in a file of doubles that the supervisor reads.

A worker never talks to another process to count.  Every series owns a few slots of a
memory-mapped file of float64 (``<pid>.values`` in the metrics directory), and an
increment is one store into it: no lock, no system call, no message.  What the slots
mean is appended once per series to ``<pid>.series`` (JSON lines) before the slots are
first used, so whoever sees a value can also name it (see ``merge.py``).

Families are declared once; a family's ``labels(...)`` child is built on first use and
cached, so the request path only does a dict lookup and a store.
"""

from __future__ import annotations

import logging
import mmap
import os
import time
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

import orjson

logger = logging.getLogger(__name__)

SLOTS = 1 << 16  # values per process: 512 KiB, which the kernel only allocates as pages are touched

COUNTER, GAUGE, HISTOGRAM = "counter", "gauge", "histogram"
# How the gauges of several processes combine: summed (in-flight requests), the value
# set last (custom GAUGE metrics), or the largest.
SUM, LAST, MAX = "sum", "last", "max"

Labels = dict[str, str]


class MetricsStore:
    """The metric values of this process (one per process, opened after the fork)."""

    def __init__(self, directory: str, pid: int | None = None):
        self.directory = directory
        self.pid = os.getpid() if pid is None else pid
        path = os.path.join(directory, f"{self.pid}.values")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.ftruncate(fd, SLOTS * 8)
            self._mmap = mmap.mmap(fd, SLOTS * 8)
        finally:
            os.close(fd)
        self.values: Any = memoryview(self._mmap).cast("d")
        self._series = open(os.path.join(directory, f"{self.pid}.series"), "ab", buffering=0)  # noqa: SIM115
        self._used = 0
        self._full_warned = False
        self.families: dict[str, Family] = {}

    def allocate(self, width: int, record: dict[str, Any]) -> tuple[Any, int]:
        """Slots for a new series; the record names them for readers."""
        if self._used + width > SLOTS:
            if not self._full_warned:
                logger.warning("more than %d metric values in this process: new series are not recorded", SLOTS)
                self._full_warned = True
            return memoryview(array("d", [0.0] * width)), 0
        slot = self._used
        self._used += width
        record["slot"] = slot
        self._series.write(orjson.dumps(record) + b"\n")
        return self.values, slot

    def declare(self, family: Family) -> None:
        self.families[family.name] = family
        self._series.write(orjson.dumps(family.describe()) + b"\n")

    def counter(self, name: str, help: str, labelnames: Sequence[str] = ()) -> Family:
        return self._family(name, help, COUNTER, labelnames)

    def gauge(self, name: str, help: str, labelnames: Sequence[str] = (), mode: str = SUM) -> Family:
        return self._family(name, help, GAUGE, labelnames, mode=mode)

    def histogram(
        self, name: str, help: str, buckets: Sequence[float], labelnames: Sequence[str] = (), count_as: str = ""
    ) -> Family:
        return self._family(name, help, HISTOGRAM, labelnames, buckets=buckets, count_as=count_as)

    def _family(self, name: str, help: str, kind: str, labelnames: Sequence[str], **options: Any) -> Family:
        family = self.families.get(name)
        if family is None:
            family = Family(self, name, help, kind, tuple(labelnames), **options)
            self.declare(family)
        elif family.kind != kind:
            raise ValueError(f"metric {name!r} is a {family.kind}, not a {kind}")
        return family

    def close(self) -> None:
        self._series.close()
        self.values.release()
        self._mmap.close()


class Family:
    """A metric name with its type; ``labels()`` gives the child that records one series."""

    def __init__(
        self,
        store: MetricsStore,
        name: str,
        help: str,
        kind: str,
        labelnames: tuple[str, ...],
        mode: str = SUM,
        buckets: Sequence[float] = (),
        count_as: str = "",
    ):
        self.store = store
        self.name = name
        self.help = help
        self.kind = kind
        self.labelnames = labelnames
        self.mode = mode
        self.buckets = tuple(float(b) for b in buckets if b != float("inf"))
        self.count_as = count_as  # a histogram whose _count is also exposed as this counter
        self._children: dict[Any, Any] = {}

    def describe(self) -> dict[str, Any]:
        record: dict[str, Any] = {"family": self.name, "type": self.kind, "help": self.help}
        if self.kind == GAUGE:
            record["mode"] = self.mode
        if self.kind == HISTOGRAM:
            record["buckets"] = self.buckets
            if self.count_as:
                record["count_as"] = self.count_as
        return record

    def labels(self, *values: str) -> Any:
        """The child of these label values (in ``labelnames`` order)."""
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.child(dict(zip(self.labelnames, values, strict=True)))
        return child

    def labelled(self, key: Any, labels: Labels) -> Any:
        """The child of a free-form label set (custom metrics); ``key`` identifies it."""
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.child(labels)
        return child

    def child(self, labels: Labels) -> Any:
        width = {COUNTER: 1, GAUGE: 2, HISTOGRAM: len(self.buckets) + 2}[self.kind]
        values, slot = self.store.allocate(width, {"series": self.name, "labels": labels})
        if self.kind == COUNTER:
            return Counter(values, slot)
        if self.kind == GAUGE:
            return Gauge(values, slot)
        return Histogram(values, slot, self.buckets)


class Counter:
    __slots__ = ("slot", "values")

    def __init__(self, values: Any, slot: int):
        self.values, self.slot = values, slot

    def inc(self, amount: float = 1.0) -> None:
        self.values[self.slot] += amount


class Gauge:
    """A value and the time it was set (for gauges whose last value wins)."""

    __slots__ = ("slot", "values")

    def __init__(self, values: Any, slot: int):
        self.values, self.slot = values, slot

    def inc(self, amount: float = 1.0) -> None:
        self.values[self.slot] += amount

    def set(self, value: float) -> None:
        self.values[self.slot] = value
        self.values[self.slot + 1] = time.time()


class Histogram:
    """Bucket counts (not cumulative; the last is +Inf), then the sum of observations."""

    __slots__ = ("_bounds", "_sum", "slot", "values")

    def __init__(self, values: Any, slot: int, bounds: tuple[float, ...]):
        self.values, self.slot, self._bounds = values, slot, bounds
        self._sum = slot + len(bounds) + 1

    def observe(self, value: float) -> None:
        values = self.values
        values[self.slot + bisect_left(self._bounds, value)] += 1.0
        values[self._sum] += value
