class MyRouter:
    """Sends rows whose first value is negative to child 1, the others to child 0."""

    def route(self, features, feature_names):
        return 1 if features[0][0] < 0 else 0
