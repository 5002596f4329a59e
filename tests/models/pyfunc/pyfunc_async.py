"""async def infer and upiv1_infer: awaited on the event loop."""

import asyncio

import mlflow.pyfunc


class AsyncModel(mlflow.pyfunc.PythonModel):
    async def infer(self, request, headers=None):
        await asyncio.sleep(0)
        return {"async": True, "request": request}

    async def upiv1_infer(self, request, context):
        from caraml.upi.v1 import upi_pb2

        await asyncio.sleep(0)
        return upi_pb2.PredictValuesResponse(target_name="async")
