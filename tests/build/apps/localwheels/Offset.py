from tinyoffset import OFFSET


class Offset:
    """Adds a constant that comes from a package found only as a local wheel."""

    def predict(self, X, feature_names):
        return X + OFFSET
