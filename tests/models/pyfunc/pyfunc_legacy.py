"""The old infer(self, request) without keyword arguments, and no upiv1_infer."""

import mlflow.pyfunc


class LegacyModel(mlflow.pyfunc.PythonModel):
    def infer(self, request):
        return {"legacy": True, "request": request}
