"""Fails as the request asks: HTTP {"action": ...}, UPI target_name.

HTTPError has the shape of tornado.web.HTTPError (status_code, log_message, reason), which
is how a Merlin user chooses the HTTP status of an answer."""

import mlflow.pyfunc


class HTTPError(Exception):
    def __init__(self, status_code=500, log_message=None, *args, **kwargs):
        super().__init__(status_code, log_message)
        self.status_code = status_code
        self.log_message = log_message
        self.args = args
        self.reason = kwargs.get("reason")


class ErrorModel(mlflow.pyfunc.PythonModel):
    def infer(self, request, **kwargs):
        action = request.get("action") if isinstance(request, dict) else None
        if action == "value_error":
            raise ValueError("boom")
        if action == "http_422":
            raise HTTPError(422, reason="custom reason")
        if action == "http_503":
            raise HTTPError(503)
        if action == "return_set":
            return {"s": {1}}
        return {"ok": True}

    def upiv1_infer(self, request, context):
        import grpc
        from caraml.upi.v1 import upi_pb2

        action = request.target_name
        if action == "value_error":
            raise ValueError("boom")
        if action == "abort_invalid":
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad input")
        if action == "set_code":
            context.set_code(grpc.StatusCode.NOT_FOUND)
            context.set_details("not here")
            return upi_pb2.PredictValuesResponse()
        if action == "return_none":
            return None
        return upi_pb2.PredictValuesResponse(target_name="ok")
