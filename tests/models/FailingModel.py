class RejectedInput(Exception):
    """Shaped like the wrapper's SeldonMicroserviceException, without importing it."""

    status_code = 400

    def __init__(self, message, status_code=None, payload=None, reason="MICROSERVICE_BAD_DATA"):
        Exception.__init__(self)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.payload = payload
        self.reason = reason

    def to_dict(self):
        return {"status": {"status": 1, "info": self.message, "code": -1, "reason": self.reason}}


class FailingModel:
    """Fails the way the request asks: {"strData": "reject" | "crash" | "bad-metric" | "ok"}."""

    def predict(self, X, feature_names):
        if X == "reject":
            raise RejectedInput("rejected by model", status_code=422, reason="MODEL_REJECTED")
        if X == "crash":
            raise ZeroDivisionError("model crashed")
        if X == "bad-type":
            return object()
        return X

    def metrics(self):
        return [{"type": "COUNTER", "key": "ok", "value": 1}]
