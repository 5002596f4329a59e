"""W1/W3 for modelserve and seldon-core: the Seldon Python-wrapper contract, predict returns its input."""

from typing import Any


class IdentityModel:
    def predict(self, X: Any, feature_names: Any, **kwargs: Any) -> Any:
        return X
