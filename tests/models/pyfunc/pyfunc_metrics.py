"""Registers its own prometheus_client counter in initialize() (the Merlin habit) and
counts every call by protocol."""

import mlflow.pyfunc


class CountingModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from prometheus_client import Counter

        self.counter = Counter("pyfunc_test_predictions", "predictions served", ["protocol"])

    def infer(self, request, **kwargs):
        self.counter.labels(protocol="http").inc()
        return {"counted": True}

    def upiv1_infer(self, request, context):
        from caraml.upi.v1 import upi_pb2

        self.counter.labels(protocol="upi").inc()
        return upi_pb2.PredictValuesResponse(target_name="counted")
