"""Merlin's PyFuncModel contract on a plain MLflow PythonModel: HTTP answers the body,
UPI echoes the prediction table, target name, context and prediction id."""

import mlflow.pyfunc


class EchoModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.initialize(context.artifacts)

    def initialize(self, artifacts):
        self.initialized = True

    def infer(self, request, **kwargs):
        return request

    def upiv1_infer(self, request, context):
        from caraml.upi.v1 import upi_pb2

        return upi_pb2.PredictValuesResponse(
            prediction_result_table=request.prediction_table,
            target_name=request.target_name,
            prediction_context=request.prediction_context,
            metadata=upi_pb2.ResponseMetadata(prediction_id=request.metadata.prediction_id),
        )

    def predict(self, context, model_input, params=None):
        raise AssertionError("a server calls infer / upiv1_infer, not predict")
