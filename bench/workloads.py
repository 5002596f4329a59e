"""The workloads: one input row and the answer every server must give for it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

IRIS_ROW = (5.1, 3.5, 1.4, 0.2)


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    model: str  # the model's name in V1/V2 URLs; its Seldon class is f"{model.title()}Model"
    row: tuple[float, ...]
    tolerance: float = 1e-9  # absolute; a model fitted in another environment converges slightly elsewhere
    connections: int = 16  # of the load generator
    min_seconds: int = 0  # a measured round lasts at least this long (a big payload's few answers)

    @property
    def timeout(self) -> float:
        """Seconds one request may take before it counts as unanswered (a million floats take a while)."""
        return 5.0 + len(self.row) / 20_000

    @property
    def seldon_class(self) -> str:
        return f"{self.model.title()}Model"

    def expected(self) -> list[float]:
        """The flat answer for ``row`` (one output row)."""
        if self.model == "iris":
            return list(iris_proba(self.row))
        if self.model == "forest":
            return [float(p) for p in forest().predict_proba([list(self.row)])[0]]
        return list(self.row)


@cache
def iris_proba(row: tuple[float, ...]) -> tuple[float, ...]:
    """``predict_proba`` of the logistic regression every W2 model fits on iris at start."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, target = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(features, target)
    return tuple(float(p) for p in model.predict_proba([list(row)])[0])


@cache
def forest() -> Any:
    """The batching bench's random forest (25 trees), fitted on a synthetic 3-class dataset."""
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    features, target = make_classification(
        n_samples=2000, n_features=FOREST_FEATURES, n_informative=8, n_classes=3, random_state=0
    )
    return RandomForestClassifier(n_estimators=25, max_depth=8, random_state=0, n_jobs=1).fit(features, target)


FOREST_FEATURES = 16

WORKLOADS = {
    w.name: w
    for w in (
        Workload("W1", "identity, 1x4 floats", "identity", (1.0, 2.0, 3.0, 4.0)),
        Workload("W2", "iris logistic regression, predict_proba of 1 row", "iris", IRIS_ROW, 1e-3),
        Workload("W3", "identity, 1x10,000 floats", "identity", tuple(i + 0.5 for i in range(10_000))),
    )
}

def sized(floats: int) -> Workload:
    """The payload-size curve's workload: identity on 1 x ``floats`` (bench/payload.py).

    Past 10,000 floats a request costs a server tens to hundreds of milliseconds: fewer connections
    keep one core busy (more would only queue, and leave few answers inside a round), and a round
    lasts at least 10 s at a million floats.
    """
    connections = 16 if floats <= 10_000 else 4 if floats <= 100_000 else 2
    return Workload(f"P{floats}", f"identity, 1x{floats:,} floats", "identity", tuple(i + 0.5 for i in range(floats)),
                    connections=connections, min_seconds=0 if floats <= 100_000 else 10)


# Not one of the peers' workloads (they have no such model): the batching bench's (bench/batching.py).
FOREST = Workload(
    "W4", "sklearn random forest, predict_proba of 1 row", "forest", tuple(0.1 * i for i in range(FOREST_FEATURES)),
    1e-6,
)
