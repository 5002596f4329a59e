"""Every process's metrics as one exposition: what the metrics port and the push gateway send.

The reader (the supervisor, or the only process in ``--debug``) reads the files that the
processes write (``store.py``) and merges series of the same name and labels: counters
and histograms are summed, gauges combined by their mode.  A worker that exits is
*retired*: its counters and histograms are folded into totals kept here, so counts stay
right after a worker is replaced, and its files and its gauges go, so that no stale series
stays.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from modelserve.metrics.store import COUNTER, GAUGE, HISTOGRAM, LAST, MAX

logger = logging.getLogger(__name__)

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass
class FamilyInfo:
    name: str
    kind: str
    help: str
    mode: str = "sum"
    buckets: tuple[float, ...] = ()
    count_as: str = ""

    @property
    def width(self) -> int:
        return {COUNTER: 1, GAUGE: 2, HISTOGRAM: len(self.buckets) + 2}[self.kind]


@dataclass
class Series:
    family: str
    labels: dict[str, str]
    slot: int


@dataclass
class ProcessFiles:
    """What one process has written so far; the series file is read on from where we were."""

    pid: int
    offset: int = 0
    pending: bytes = b""
    series: list[Series] = field(default_factory=list)
    used: int = 0


class MetricsMerger:
    def __init__(self, directory: str):
        self.directory = directory
        self.families: dict[str, FamilyInfo] = {}
        self.processes: dict[int, ProcessFiles] = {}
        self.retired: dict[SeriesKey, list[float]] = {}

    # -- reading

    def _pids(self) -> list[int]:
        pids = []
        for name in os.listdir(self.directory):
            stem, _, extension = name.partition(".")
            if extension == "series" and stem.isdigit():
                pids.append(int(stem))
        return pids

    def _refresh(self, files: ProcessFiles) -> None:
        try:
            with open(os.path.join(self.directory, f"{files.pid}.series"), "rb") as stream:
                stream.seek(files.offset)
                data = stream.read()
        except FileNotFoundError:
            return
        files.offset += len(data)
        lines = (files.pending + data).split(b"\n")
        files.pending = lines.pop()  # a line still being written
        for line in lines:
            if not line:
                continue
            record = orjson.loads(line)
            if "family" in record:
                self.families.setdefault(record["family"], _family_info(record))
            else:
                family = self.families.get(record["series"])
                if family is None:
                    continue
                series = Series(record["series"], record["labels"], record["slot"])
                files.series.append(series)
                files.used = max(files.used, series.slot + family.width)

    def _values(self, files: ProcessFiles) -> Any:
        if not files.used:
            return None
        try:
            fd = os.open(os.path.join(self.directory, f"{files.pid}.values"), os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            data = os.pread(fd, files.used * 8, 0)
        finally:
            os.close(fd)
        return memoryview(data).cast("d") if len(data) == files.used * 8 else None

    def _process_samples(self, files: ProcessFiles) -> Iterator[tuple[FamilyInfo, SeriesKey, list[float]]]:
        self._refresh(files)
        values = self._values(files)
        if values is None:
            return
        for series in files.series:
            family = self.families[series.family]
            key = (series.family, tuple(sorted(series.labels.items())))
            yield family, key, list(values[series.slot : series.slot + family.width])

    # -- merging

    def retire(self, pid: int) -> None:
        """A process has exited: keep its counts, drop its gauges and its files."""
        files = self.processes.pop(pid, None) or ProcessFiles(pid)
        for family, key, values in self._process_samples(files):
            if family.kind != GAUGE:
                _add(self.retired, key, values)
        for extension in ("series", "values"):
            try:
                os.unlink(os.path.join(self.directory, f"{pid}.{extension}"))
            except FileNotFoundError:
                pass

    def merged(self) -> dict[SeriesKey, list[float]]:
        totals = {key: list(values) for key, values in self.retired.items()}
        gauges: dict[SeriesKey, list[float]] = {}
        for pid in self._pids():
            files = self.processes.get(pid)
            if files is None:
                files = self.processes[pid] = ProcessFiles(pid)
            for family, key, values in self._process_samples(files):
                if family.kind == GAUGE:
                    _combine_gauge(gauges, key, values, family.mode)
                else:
                    _add(totals, key, values)
        totals.update(gauges)
        return totals

    def collect(self) -> list[Metric]:
        metrics: dict[str, Metric] = {}
        counts: dict[str, Metric] = {}
        for (name, labels), values in sorted(self.merged().items()):
            family = self.families[name]
            metric = metrics.get(name)
            if metric is None:
                metric = metrics[name] = Metric(_base_name(family), family.help, family.kind)
            label_dict = dict(labels)
            if family.kind == COUNTER:
                metric.add_sample(metric.name + "_total", label_dict, values[0])
            elif family.kind == GAUGE:
                metric.add_sample(metric.name, label_dict, values[0])
            else:
                count = _add_histogram(metric, family, label_dict, values)
                if family.count_as:
                    counter = counts.get(family.count_as)
                    if counter is None:
                        counter = counts[family.count_as] = Metric(
                            family.count_as, f"Requests served ({family.name} observations)", COUNTER
                        )
                    counter.add_sample(family.count_as + "_total", label_dict, count)
        return [*metrics.values(), *counts.values()]


def _family_info(record: dict[str, Any]) -> FamilyInfo:
    return FamilyInfo(
        record["family"],
        record["type"],
        record.get("help", ""),
        record.get("mode", "sum"),
        tuple(record.get("buckets", ())),
        record.get("count_as", ""),
    )


def _base_name(family: FamilyInfo) -> str:
    if family.kind == COUNTER and family.name.endswith("_total"):
        return family.name[: -len("_total")]
    return family.name


def _add(totals: dict[SeriesKey, list[float]], key: SeriesKey, values: list[float]) -> None:
    total = totals.get(key)
    if total is None:
        totals[key] = list(values)
    else:
        for index, value in enumerate(values):
            total[index] += value


def _combine_gauge(gauges: dict[SeriesKey, list[float]], key: SeriesKey, values: list[float], mode: str) -> None:
    """values are [value, time set]; a last-value gauge never set (time 0) has no value yet."""
    if mode == LAST and values[1] == 0.0:
        return
    current = gauges.get(key)
    if current is None:
        gauges[key] = values
    elif mode == LAST:
        if values[1] >= current[1]:
            gauges[key] = values
    elif mode == MAX:
        current[0] = max(current[0], values[0])
    else:
        current[0] += values[0]


def _add_histogram(metric: Metric, family: FamilyInfo, labels: dict[str, str], values: list[float]) -> float:
    cumulative = 0.0
    for bound, count in zip((*family.buckets, math.inf), values, strict=False):
        cumulative += count
        metric.add_sample(metric.name + "_bucket", {**labels, "le": floatToGoString(bound)}, cumulative)
    metric.add_sample(metric.name + "_count", labels, cumulative)
    metric.add_sample(metric.name + "_sum", labels, values[-1])
    return cumulative


class _MergedCollector(Collector):
    def __init__(self, merger: MetricsMerger):
        self.merger = merger

    def collect(self) -> Iterator[Metric]:
        yield from self.merger.collect()


class Exposition:
    """Renders the merged metrics in the format a scraper asks for (text, or OpenMetrics)."""

    def __init__(self, merger: MetricsMerger):
        self.merger = merger
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_MergedCollector(merger))

    def render(self, accept: str = "") -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type
