"""A plain MLflow PythonModel: predict(context, model_input) gets what Merlin hands it,
{"__INPUT__": body, "__EXTRA_ARGS__": {"headers": ...}, ...}."""

import os
import threading

import mlflow.pyfunc


class PlainModel(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        protocol = model_input.get("__PROTOCOL__")
        if getattr(protocol, "value", protocol) == "UPI_V1":
            from caraml.upi.v1 import upi_pb2

            # the request's target name, or (none given) the id of the process that answered
            target = model_input["__INPUT__"].target_name or str(os.getpid())
            return upi_pb2.PredictValuesResponse(target_name=target)
        return {
            "input": model_input["__INPUT__"],
            "keys": sorted(model_input),
            "has_headers": isinstance(model_input["__EXTRA_ARGS__"].get("headers"), dict),
            "pid": os.getpid(),
            "thread": threading.current_thread().name,
        }
