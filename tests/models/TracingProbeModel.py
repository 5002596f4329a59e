import os
import sys


class TracingProbeModel:
    """Tells whether OpenTelemetry is imported in the serving process; strData "crash" fails.

    With OpenTelemetry loaded, predict also starts a span of its own through the API, as a
    user's code may, to show that it joins the request's trace.
    """

    def predict(self, X, feature_names):
        if X == "crash":
            raise RuntimeError("probe crashed")
        loaded = "opentelemetry" in sys.modules
        if loaded:
            from opentelemetry import trace

            with trace.get_tracer("probe").start_as_current_span("user-step"):
                pass
        return {"opentelemetry_loaded": loaded, "pid": os.getpid()}
