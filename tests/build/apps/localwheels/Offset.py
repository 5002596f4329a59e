from tinyoffset import OFFSET


class Offset:
    """Adds a constant from modelserve-test-offset, a package found only as a local wheel (or a private index)."""

    def predict(self, X, feature_names):
        return X + OFFSET
