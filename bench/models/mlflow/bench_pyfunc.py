"""The bench's MLflow pyfunc models, for merlin-pyfunc-server and ``modelserve serve --model-dir``.

Plain ``mlflow.pyfunc.PythonModel`` subclasses with Merlin's ``PyFuncModel`` methods
(``initialize``, ``infer(request, **kwargs)``, ``upiv1_infer(request, context)``) and the same
``predict()`` dispatch as merlin-sdk (``{"__INPUT__", "__EXTRA_ARGS__", "__PROTOCOL__",
"__GRPC_CONTEXT__"}``), so they load without merlin-sdk.  Saved by ``save.py`` with Merlin's own
MLflow; this module travels in each saved model's ``code/`` directory.

* ``IdentityModel`` (W1, W3): HTTP_JSON ``{"instances": X}`` -> ``{"predictions": X}`` (Merlin's
  echo with the V1 envelope: one dict look-up more than returning the body); UPI_V1: the
  request's table back as the result table.
* ``IrisModel`` (W2): a logistic regression fitted on iris in ``initialize`` (as every W2 model
  does at start), answering ``predict_proba``; UPI_V1: a result table of the probabilities.
* ``BigArrayModel`` (the start-up bench): ``IdentityModel`` holding 500 MiB of random arrays made in
  ``initialize``, as bench/models/BigArrayModel.py does in ``load()``.

The UPI response class is taken from the request's own descriptor pool, so the models work with
whatever compiled the UPI messages (caraml-upi-protos in Merlin, modelserve's own).
"""

from mlflow.pyfunc import PythonModel


def _response_class(request):
    from google.protobuf import message_factory

    descriptor = request.DESCRIPTOR.file.message_types_by_name["PredictValuesResponse"]
    return message_factory.GetMessageClass(descriptor)


class _MerlinStyle(PythonModel):
    def load_context(self, context):
        self.initialize(context.artifacts)

    def predict(self, context, model_input):
        body = model_input.get("__INPUT__", {})
        protocol = model_input.get("__PROTOCOL__", "HTTP_JSON")
        if getattr(protocol, "value", protocol) == "UPI_V1":
            return self.upiv1_infer(body, model_input.get("__GRPC_CONTEXT__"))
        return self.infer(body, **(model_input.get("__EXTRA_ARGS__") or {}))

    def initialize(self, artifacts):
        pass


class IdentityModel(_MerlinStyle):
    def infer(self, request, **kwargs):
        return {"predictions": request["instances"]}

    def upiv1_infer(self, request, context):
        response = _response_class(request)(target_name=request.target_name)
        response.prediction_result_table.CopyFrom(request.prediction_table)
        return response


class IrisModel(_MerlinStyle):
    def initialize(self, artifacts):
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        features, target = load_iris(return_X_y=True)
        self.model = LogisticRegression(max_iter=1000).fit(features, target)

    def infer(self, request, **kwargs):
        return {"predictions": self.model.predict_proba(request["instances"]).tolist()}

    def upiv1_infer(self, request, context):
        table = request.prediction_table
        rows = [[value.double_value for value in row.values] for row in table.rows]
        response = _response_class(request)(target_name=request.target_name)
        result = response.prediction_result_table
        result.name = table.name
        for i in range(3):
            result.columns.add(name=f"f{i}", type=1)
        for row, proba in zip(table.rows, self.model.predict_proba(rows).tolist(), strict=True):
            result.rows.add(row_id=row.row_id).values.extend(
                type(row.values[0])(double_value=p) for p in proba)
        return response


class BigArrayModel(IdentityModel):
    def initialize(self, artifacts):
        import numpy as np

        rng = np.random.default_rng(0)  # random, not zeros: every page is written, so it is resident
        self.arrays = [rng.random(500 * 2**20 // 10 // 8) for _ in range(10)]
