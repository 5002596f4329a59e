"""Hypothesis profiles of the fuzz tests: a bounded, repeatable run in ``make test``, a long one by ``make fuzz``.

``HYPOTHESIS_PROFILE`` chooses the profile:

- ``ci`` (the default): few examples, derandomized (the same examples on every run, so
  that a failure is never a matter of luck) and no example database.  Hypothesis also
  mixes in constants it finds in the source of the modules loaded so far, a set that
  grows as a run imports modules: with it, two runs of the same tests differ.  The
  profile leaves those constants out;
- ``long``: many random examples, a new draw on every run; failures found are kept in
  ``.hypothesis/`` and tried first on the next run.

Per-test bounds are multiples of the profile's ``max_examples`` (``examples(n)``).
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

CI_EXAMPLES = 100
LONG_EXAMPLES = 5000

settings.register_profile(
    "ci",
    max_examples=CI_EXAMPLES,
    derandomize=True,
    database=None,
    # Bounds the time of one example: a codec taking seconds on a small input is a defect
    # (a slow path a client can trigger), not noise.  Generous for a loaded 2-core machine.
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=LONG_EXAMPLES,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)

if PROFILE == "ci":
    from hypothesis.internal.conjecture import providers

    if hasattr(providers, "_get_local_constants"):  # a private part of hypothesis: checked by name
        providers._get_local_constants = providers.Constants


def examples(share: float) -> int:
    """``share`` of the profile's examples (at least 1): a test's budget relative to the others."""
    return max(1, int(settings.default.max_examples * share))
