"""The metric files of several processes merged into one exposition (no server needed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelserve.metrics import make_directory
from modelserve.metrics.merge import Exposition, MetricsMerger
from modelserve.metrics.store import LAST, MAX, SLOTS, MetricsStore


def samples(directory: Path, merger: MetricsMerger | None = None) -> dict[tuple, float]:
    body, content_type = Exposition(merger or MetricsMerger(str(directory))).render()
    assert content_type.startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_counters_of_two_processes_are_summed_into_one_series(tmp_path: Path) -> None:
    first, second = MetricsStore(str(tmp_path), pid=101), MetricsStore(str(tmp_path), pid=102)
    first.counter("calls", "Calls.", ("method",)).labels("predict").inc()
    second.counter("calls", "Calls.", ("method",)).labels("predict").inc(2)
    second.counter("calls", "Calls.", ("method",)).labels("route").inc()
    found = samples(tmp_path)
    assert found[("calls_total", (("method", "predict"),))] == 3.0
    assert found[("calls_total", (("method", "route"),))] == 1.0


def test_histograms_merge_bucket_by_bucket(tmp_path: Path) -> None:
    for pid, values in ((201, (0.05, 0.5)), (202, (2.0,))):
        histogram = MetricsStore(str(tmp_path), pid=pid).histogram("latency", "L.", (0.1, 1.0)).labels()
        for value in values:
            histogram.observe(value)
    found = samples(tmp_path)
    assert found[("latency_bucket", (("le", "0.1"),))] == 1.0
    assert found[("latency_bucket", (("le", "1.0"),))] == 2.0
    assert found[("latency_bucket", (("le", "+Inf"),))] == 3.0
    assert found[("latency_count", ())] == 3.0
    assert found[("latency_sum", ())] == pytest.approx(2.55)


def test_a_value_on_a_bucket_bound_counts_in_that_bucket(tmp_path: Path) -> None:
    MetricsStore(str(tmp_path), pid=1).histogram("h", "H.", (1.0, 2.0)).labels().observe(1.0)
    assert samples(tmp_path)[("h_bucket", (("le", "1.0"),))] == 1.0


def test_gauges_combine_by_mode(tmp_path: Path) -> None:
    first, second = MetricsStore(str(tmp_path), pid=301), MetricsStore(str(tmp_path), pid=302)
    first.gauge("in_flight", "I.").labels().inc(2)
    second.gauge("in_flight", "I.").labels().inc(3)
    first.gauge("ready", "R.", mode=MAX).labels().set(0)
    second.gauge("ready", "R.", mode=MAX).labels().set(1)
    second.gauge("temperature", "T.", mode=LAST).labels().set(10)
    first.gauge("temperature", "T.", mode=LAST).labels().set(20)  # set later: wins
    found = samples(tmp_path)
    assert found[("in_flight", ())] == 5.0
    assert found[("ready", ())] == 1.0
    assert found[("temperature", ())] == 20.0


def test_retiring_a_process_keeps_its_counts_and_drops_its_gauges_and_files(tmp_path: Path) -> None:
    merger = MetricsMerger(str(tmp_path))
    live, dead = MetricsStore(str(tmp_path), pid=401), MetricsStore(str(tmp_path), pid=402)
    for store in (live, dead):
        store.counter("calls", "C.").labels().inc(5)
        store.gauge("in_flight", "I.").labels().inc()
        store.histogram("latency", "L.", (1.0,)).labels().observe(0.5)
    assert samples(tmp_path, merger)[("calls_total", ())] == 10.0
    dead.close()
    merger.retire(402)
    assert sorted(os.listdir(tmp_path)) == ["401.series", "401.values"]
    live.counter("calls", "C.").labels().inc()
    found = samples(tmp_path, merger)
    assert found[("calls_total", ())] == 11.0
    assert found[("latency_count", ())] == 2.0
    assert found[("in_flight", ())] == 1.0  # only the live process's


def test_a_replacement_process_with_the_pid_of_a_retired_one_starts_from_zero(tmp_path: Path) -> None:
    merger = MetricsMerger(str(tmp_path))
    MetricsStore(str(tmp_path), pid=501).counter("calls", "C.").labels().inc(4)
    samples(tmp_path, merger)
    merger.retire(501)
    MetricsStore(str(tmp_path), pid=501).counter("calls", "C.").labels().inc(1)
    assert samples(tmp_path, merger)[("calls_total", ())] == 5.0


def test_a_series_line_still_being_written_is_not_read(tmp_path: Path) -> None:
    store = MetricsStore(str(tmp_path), pid=601)
    store.counter("calls", "C.").labels().inc()
    with open(tmp_path / "601.series", "ab") as stream:
        stream.write(b'{"series": "calls", "labels": {"a": "b"}, "sl')  # no newline yet
    assert samples(tmp_path) == {("calls_total", ()): 1.0}


def test_a_histogram_can_also_be_counted_as_a_counter(tmp_path: Path) -> None:
    store = MetricsStore(str(tmp_path), pid=701)
    store.histogram("duration_seconds", "D.", (1.0,), ("status",), count_as="requests").labels("200").observe(0.1)
    assert samples(tmp_path)[("requests_total", (("status", "200"),))] == 1.0


def test_openmetrics_when_asked(tmp_path: Path) -> None:
    MetricsStore(str(tmp_path), pid=801).counter("calls", "C.").labels().inc()
    body, content_type = Exposition(MetricsMerger(str(tmp_path))).render("application/openmetrics-text")
    assert content_type.startswith("application/openmetrics-text")
    assert b"calls_total 1.0" in body and body.endswith(b"# EOF\n")


def test_a_family_keeps_its_type(tmp_path: Path) -> None:
    store = MetricsStore(str(tmp_path), pid=901)
    store.counter("x", "X.")
    with pytest.raises(ValueError, match="counter"):
        store.gauge("x", "X.")


def test_beyond_the_slots_new_series_are_dropped_not_crashed(tmp_path: Path) -> None:
    store = MetricsStore(str(tmp_path), pid=1001)
    family = store.counter("wide", "W.", ("i",))
    for i in range(SLOTS + 10):
        family.labels(str(i)).inc()
    found = samples(tmp_path)
    assert len(found) == SLOTS
    assert all(value == 1.0 for value in found.values())


def test_directories_of_killed_servers_are_removed_by_the_next_one(tmp_path: Path) -> None:
    exited = subprocess.Popen(["true"])
    exited.wait()
    orphan = tmp_path / f"modelserve-metrics-{exited.pid}-abc"
    orphan.mkdir()
    (orphan / "1.values").write_bytes(b"")
    ours = tmp_path / f"modelserve-metrics-{os.getpid()}-def"
    ours.mkdir()
    created = make_directory(str(tmp_path))
    assert not orphan.exists()
    assert ours.exists() and os.path.isdir(created)
