# Wrapper-contract import: a model reports its own HTTP status and reason by raising
# seldon_core.flask_utils.SeldonMicroserviceException (the exception class of the
# Seldon Python-wrapper contract).  When that module is not importable, a local class
# of the same shape is used instead: message, status_code, reason, payload, to_dict().
try:
    from seldon_core.flask_utils import SeldonMicroserviceException as _Base
except ImportError:  # pragma: no cover - used by non-Seldon servers

    class _Base(Exception):
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


class ModelRejectedInput(_Base):
    pass


class SeldonErrorModel:
    """MODEL whose predict raises a SeldonMicroserviceException subclass (status 422)."""

    def predict(self, X, features_names=None, **kwargs):
        raise ModelRejectedInput("input rejected by model", status_code=422, reason="MY_MODEL_REJECTED")
