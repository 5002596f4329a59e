"""A model that answers wrongly: the bench must flag it, never report it."""

from typing import Any


class IdentityModel:
    def predict(self, X: Any, feature_names: Any, **kwargs: Any) -> Any:
        return X + 1
