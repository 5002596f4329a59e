"""Answers the request headers it was given (infer's headers keyword)."""

import mlflow.pyfunc


class HeadersModel(mlflow.pyfunc.PythonModel):
    def infer(self, request, headers=None):
        return {"body": request, "headers": headers}
