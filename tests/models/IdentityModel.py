class IdentityModel:
    """predict returns its input."""

    def predict(self, X, feature_names, **kwargs):
        return X
