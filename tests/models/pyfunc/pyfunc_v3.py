"""Merlin's PyFuncV3Model contract, duck-typed: preprocess -> infer -> postprocess (HTTP)
and upiv1_preprocess -> infer -> upiv1_postprocess (UPI); each row's sum."""

from dataclasses import dataclass, field

import mlflow.pyfunc


@dataclass
class ModelInput:
    rows: list
    prediction_ids: list = field(default_factory=list)
    session_id: str = ""


@dataclass
class ModelOutput:
    sums: list
    prediction_ids: list = field(default_factory=list)


class SumModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.initialize(context.artifacts)

    def initialize(self, artifacts):
        self.calls = []

    def preprocess(self, request, **kwargs):
        self.calls.append("preprocess")
        rows = request["instances"]
        return ModelInput(rows, [str(i) for i in range(len(rows))], request.get("session_id", ""))

    def infer(self, model_input):
        self.calls.append("infer")
        return ModelOutput([sum(r) for r in model_input.rows], model_input.prediction_ids)

    def postprocess(self, model_output, request):
        self.calls.append("postprocess")
        return {"sums": model_output.sums, "row_ids": model_output.prediction_ids, "session": request.get("session_id")}

    def upiv1_preprocess(self, request, context):
        t = request.prediction_table
        rows = [[v.double_value or float(v.integer_value) for v in r.values] for r in t.rows]
        return ModelInput(rows, [r.row_id for r in t.rows], request.metadata.prediction_id)

    def upiv1_postprocess(self, model_output, request):
        from caraml.upi.v1 import table_pb2, type_pb2, upi_pb2

        return upi_pb2.PredictValuesResponse(
            prediction_result_table=table_pb2.Table(
                name="sums",
                columns=[table_pb2.Column(name="sum", type=type_pb2.TYPE_DOUBLE)],
                rows=[
                    table_pb2.Row(row_id=rid, values=[table_pb2.Value(double_value=s)])
                    for rid, s in zip(model_output.prediction_ids, model_output.sums)
                ],
            ),
            metadata=upi_pb2.ResponseMetadata(prediction_id=request.metadata.prediction_id),
        )
