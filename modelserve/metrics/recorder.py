"""What a serving process records: built-in request metrics and the user's custom metrics.

Built-in (unless ``--builtin-metrics 0``), for every request except health probes:

- ``modelserve_requests_total`` and ``modelserve_request_duration_seconds`` (histogram), by
  ``transport`` (rest, grpc), ``protocol`` (seldon, v2, kserve-v1), ``endpoint`` (route or
  gRPC method) and ``status`` (HTTP status, or gRPC code name);
- ``modelserve_requests_in_flight`` by ``transport``;
- ``modelserve_request_size_bytes`` and ``modelserve_response_size_bytes`` (histograms);
- ``modelserve_user_code_seconds`` (histogram) by ``method`` (predict, transform_input, ...);
- ``modelserve_model_ready`` and ``modelserve_model_load_seconds``;
- ``modelserve_batch_size`` and ``modelserve_batch_queue_seconds`` when batching is on.

Custom metrics (``metrics()``, ``SeldonResponse.metrics``, ``meta.metrics`` of raw answers):
COUNTER adds, GAUGE keeps the last value, TIMER (milliseconds) goes into a histogram in
seconds; labelled as the original labels them (see ``deployment_labels``), but one series
summed over every worker (``worker_id="all"``) rather than one per worker.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any

from modelserve.errors import BAD_METRIC, ServingError
from modelserve.metrics.store import LAST, MAX, Family, MetricsStore
from modelserve.settings import Settings

NOT_IMPLEMENTED = "NOT_IMPLEMENTED"
WORKER_ID = "all"  # the original's per-worker label, kept for dashboards: our series are summed

# The original's TIMER buckets: 50 log-spaced bounds from 1 ms to 30 s (the +Inf bucket is
# implied), np.logspace(-3, log10(30), 50).  Written out because ``le`` is a string label:
# numpy builds differ in the last digit of some bounds, and a dashboard selecting a bucket
# must find the same string as before.
TIMER_BUCKETS = (
    0.001, 0.0012341553253454693, 0.0015231393670785815, 0.0018797905611233593,
    0.0023199535315445415, 0.002863183005509725, 0.0035336125536884733, 0.004361026750842238,
    0.005382184388525997, 0.006642451525090608, 0.008197816923039709, 0.010117379411776668,
    0.012486417679584786, 0.015410178873747385, 0.019018554321561593, 0.02347185009632733,
    0.028967908792092944, 0.03575089889988335, 0.04412216226317852, 0.05445360152285871,
    0.06720420230367624, 0.0829404241586763, 0.10236136616184238, 0.12632982515827532,
    0.15591062646904755, 0.19241792993472334, 0.2374736129208902, 0.2930793240153456,
    0.3617054084821892, 0.44640065608455204, 0.5509277469444613, 0.6799304127720881,
    0.8391397397870157, 1.035628778567157, 1.2781267721496807, 1.5774069623151439,
    1.9467652027782552, 2.402610642206036, 2.965194718810281, 3.65951085290597,
    4.516404807273444, 5.573945044312399, 6.879113959621136, 8.489895126924782,
    10.477849282518772, 12.931293490187748, 15.959224724520412, 19.696162182151948,
    24.30812344597087, 29.999999999999996,
)
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SIZE_BUCKETS = tuple(float(64 * 4**i) for i in range(12))  # 64 B .. 256 MiB


def _size_bucket_table() -> tuple[int, ...]:
    """Bucket index of a size n by (n - 1).bit_length(): bisecting SIZE_BUCKETS, without the search."""
    return tuple(bisect_left(SIZE_BUCKETS, float(2**bits)) for bits in range(64))


_SIZE_BUCKET = _size_bucket_table()
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# Where a histogram's sum is, after its buckets and the +Inf bucket (see store.Histogram).
_LATENCY_SUM = len(LATENCY_BUCKETS) + 1
_SIZE_SUM = len(SIZE_BUCKETS) + 1

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

FEEDBACK_METHOD = "feedback"


def deployment_labels(settings: Settings) -> dict[str, str]:
    """The labels the original puts on every custom metric, from the deployment's variables."""
    image = settings.predictive_unit_image or ""
    image_name, _, image_version = image.rpartition(":") if ":" in image else (image, "", "")
    image_name = image_name or NOT_IMPLEMENTED
    image_version = image_version or NOT_IMPLEMENTED
    deployment = settings.deployment_name or NOT_IMPLEMENTED
    return {
        "deployment_name": deployment,
        "seldon_deployment_name": deployment,
        "model_name": settings.predictive_unit_id or NOT_IMPLEMENTED,
        "model_image": image_name,
        "image_name": image_name,
        "model_version": image_version,
        "image_version": image_version,
        "predictor_name": settings.predictor_name or NOT_IMPLEMENTED,
        "predictor_version": predictor_version(settings.predictor_labels),
    }


def predictor_version(labels_json: str | None) -> str:
    import json

    try:
        labels = json.loads(labels_json) if labels_json else {}
    except ValueError:
        return NOT_IMPLEMENTED
    version = labels.get("version") if isinstance(labels, dict) else None
    return str(version) if version is not None else NOT_IMPLEMENTED


class Route:
    """The built-in series of one endpoint: ``start`` and ``finish`` record a request.

    This runs for every request, so it writes the store's slots directly rather than
    through the children's methods (a third of the cost).  Series are made on an
    endpoint's first request, so unused routes export nothing.
    """

    __slots__ = ("_by_status", "_gauge", "_gauge_slot", "_labels", "_metrics", "_sizes")

    def __init__(self, metrics: ServerMetrics, transport: str, protocol: str, endpoint: str):
        assert metrics.in_flight is not None
        self._metrics = metrics
        self._labels = (transport, protocol, endpoint)
        gauge = metrics.in_flight.labels(transport)
        self._gauge, self._gauge_slot = gauge.values, gauge.slot
        self._by_status: dict[Any, tuple[Any, int]] = {}  # status -> (values, first slot)
        self._sizes: tuple[Any, int, Any, int] | None = None  # request's, response's (values, first slot)

    def start(self) -> None:
        self._gauge[self._gauge_slot] += 1.0

    def finish(self, status: Any, seconds: float, request_bytes: int, response_bytes: int) -> None:
        self._gauge[self._gauge_slot] -= 1.0
        values, slot = self._by_status.get(status) or self._add_status(status)
        values[slot + bisect_left(LATENCY_BUCKETS, seconds)] += 1.0
        values[slot + _LATENCY_SUM] += seconds
        values, slot, response_values, response_slot = self._sizes or self._add_sizes()
        values[slot + _SIZE_BUCKET[(request_bytes - 1).bit_length()]] += 1.0
        values[slot + _SIZE_SUM] += request_bytes
        response_values[response_slot + _SIZE_BUCKET[(response_bytes - 1).bit_length()]] += 1.0
        response_values[response_slot + _SIZE_SUM] += response_bytes

    def _add_status(self, status: Any) -> tuple[Any, int]:
        assert self._metrics.durations is not None
        child = self._metrics.durations.labels(*self._labels, str(status))
        entry = self._by_status[status] = (child.values, child.slot)
        return entry

    def _add_sizes(self) -> tuple[Any, int, Any, int]:
        assert self._metrics.request_size is not None and self._metrics.response_size is not None
        request = self._metrics.request_size.labels(*self._labels)
        response = self._metrics.response_size.labels(*self._labels)
        self._sizes = (request.values, request.slot, response.values, response.slot)
        return self._sizes


class ServerMetrics:
    """The metrics of one serving process, over its store."""

    def __init__(self, store: MetricsStore, settings: Settings):
        self.store = store
        self.builtin = settings.builtin_metrics
        self.labels = {**deployment_labels(settings), "worker_id": WORKER_ID}
        self.feedback = settings.executor_enabled
        self.durations: Family | None = None
        self.in_flight: Family | None = None
        self.request_size: Family | None = None
        self.response_size: Family | None = None
        self.user_code: Family | None = None
        self._routes: dict[tuple[str, str, str], Route] = {}
        self._custom: dict[tuple[str, str], Family] = {}
        if self.builtin:
            self._declare_builtin()

    def _declare_builtin(self) -> None:
        store = self.store
        request_labels = ("transport", "protocol", "endpoint")
        self.durations = store.histogram(
            "modelserve_request_duration_seconds",
            "Time from a request's arrival to its answer, in seconds.",
            LATENCY_BUCKETS,
            (*request_labels, "status"),
            count_as="modelserve_requests",
        )
        self.in_flight = store.gauge("modelserve_requests_in_flight", "Requests being served.", ("transport",))
        self.request_size = store.histogram(
            "modelserve_request_size_bytes", "Request body sizes, in bytes.", SIZE_BUCKETS, request_labels
        )
        self.response_size = store.histogram(
            "modelserve_response_size_bytes", "Response body sizes, in bytes.", SIZE_BUCKETS, request_labels
        )
        self.user_code = store.histogram(
            "modelserve_user_code_seconds", "Time spent in the model's own methods, in seconds.",
            LATENCY_BUCKETS, ("method",),
        )
        self.ready = store.gauge("modelserve_model_ready", "1 when the model is loaded and serving.", mode=MAX)
        self.load_seconds = store.gauge(
            "modelserve_model_load_seconds", "Time the model took to import, build and load().", mode=LAST
        )

    # -- built-in

    def route(self, transport: str, protocol: str, endpoint: str) -> Route | None:
        """The recorder of one endpoint, or None when built-in metrics are off."""
        if not self.builtin:
            return None
        key = (transport, protocol, endpoint)
        route = self._routes.get(key)
        if route is None:
            route = self._routes[key] = Route(self, transport, protocol, endpoint)
        return route

    def user_code_timer(self, verb: str) -> Any:
        """The histogram child timing one verb's user calls (None when built-ins are off)."""
        return self.user_code.labels(verb) if self.user_code is not None else None

    def model_loaded(self, seconds: float, ready: bool = True) -> None:
        if self.builtin:
            self.load_seconds.labels().set(seconds)
            self.ready.labels().set(1.0 if ready else 0.0)

    def set_ready(self, ready: bool) -> None:
        if self.builtin:
            self.ready.labels().set(1.0 if ready else 0.0)

    def batch_recorder(self) -> Callable[[int, float], None] | None:
        """What the batcher calls per user call: how many requests it merged, how long the first waited."""
        if not self.builtin:
            return None
        sizes = self.store.histogram(
            "modelserve_batch_size", "Requests merged into one user call.", BATCH_BUCKETS
        ).labels()
        waits = self.store.histogram(
            "modelserve_batch_queue_seconds", "Time a batch's first request waited for its call, in seconds.",
            LATENCY_BUCKETS,
        ).labels()

        def record(size: int, queue_seconds: float) -> None:
            sizes.observe(size)
            waits.observe(queue_seconds)

        return record

    # -- custom

    def record_custom(self, method: str, metrics: Sequence[dict[str, Any]]) -> None:
        """Validated custom metric dicts (see ``component.validate_metrics``) of one call."""
        for metric in metrics:
            kind = metric["type"]
            family = self._custom_family(metric["key"], kind)
            tags = metric.get("tags") or {}
            key = (method, *sorted((str(k), str(v)) for k, v in tags.items())) if tags else (method,)
            child = family.labelled(key, self._labels_of(method, tags))
            value = float(metric["value"])
            if kind == "COUNTER":
                child.inc(value)
            elif kind == "GAUGE":
                child.set(value)
            else:
                child.observe(value / 1000.0)

    def record_feedback(self, reward: float) -> None:
        if not self.feedback:
            return
        self.record_custom(
            FEEDBACK_METHOD,
            [
                {"type": "COUNTER", "key": "seldon_api_model_feedback", "value": 1},
                {"type": "COUNTER", "key": "seldon_api_model_feedback_reward", "value": reward},
            ],
        )

    def _custom_family(self, name: str, kind: str) -> Family:
        family = self._custom.get((name, kind))
        if family is None:
            try:
                if kind == "COUNTER":
                    family = self.store.counter(name, f"Custom counter {name}.")
                elif kind == "GAUGE":
                    family = self.store.gauge(name, f"Custom gauge {name}.", mode=LAST)
                else:
                    family = self.store.histogram(name, f"Custom timer {name}, in seconds.", TIMER_BUCKETS)
            except ValueError as error:
                raise ServingError(f"Bad metric created during request: {error}", 500, BAD_METRIC) from None
            self._custom[(name, kind)] = family
        return family

    def _labels_of(self, method: str, tags: dict[str, Any]) -> dict[str, str]:
        labels = dict(self.labels)
        labels.update((str(k), str(v)) for k, v in tags.items())
        labels["method"] = method
        return labels


def check_metric_names(metric: dict[str, Any]) -> str | None:
    """Why a custom metric's key or tag names cannot be Prometheus names (None when they can)."""
    if not _METRIC_NAME.match(metric["key"]):
        return f"{metric['key']!r} is not a valid Prometheus metric name"
    for tag in metric.get("tags") or {}:
        if not isinstance(tag, str) or not _LABEL_NAME.match(tag) or tag.startswith("__") or tag == "le":
            return f"tag {tag!r} is not a valid Prometheus label name"
    return None
