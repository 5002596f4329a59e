"""A scikit-learn classifier saved as an MLflow artifact and loaded in initialize():
HTTP {"instances": [[4 floats], ...]} -> {"predictions": [class, ...]}; UPI: the
prediction table's 4 DOUBLE columns -> a table of one INTEGER column "class", row ids kept."""

import pickle

import mlflow.pyfunc


class IrisModel(mlflow.pyfunc.PythonModel):
    def initialize(self, artifacts):
        with open(artifacts["classifier"], "rb") as f:
            self.classifier = pickle.load(f)

    def infer(self, request, **kwargs):
        predictions = self.classifier.predict(request["instances"])
        return {"predictions": [int(p) for p in predictions]}

    def upiv1_infer(self, request, context):
        from caraml.upi.v1 import table_pb2, type_pb2, upi_pb2

        table = request.prediction_table
        rows = [[v.double_value for v in row.values] for row in table.rows]
        classes = self.classifier.predict(rows) if rows else []
        return upi_pb2.PredictValuesResponse(
            prediction_result_table=table_pb2.Table(
                name="predictions",
                columns=[table_pb2.Column(name="class", type=type_pb2.TYPE_INTEGER)],
                rows=[
                    table_pb2.Row(row_id=row.row_id, values=[table_pb2.Value(integer_value=int(c))])
                    for row, c in zip(table.rows, classes)
                ],
            ),
            target_name=request.target_name,
        )
