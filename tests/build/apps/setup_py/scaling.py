from packaging.version import Version


def scale(X):
    """Multiplies by the major version of a parsed version string: needs the packaging dependency."""
    return X * Version("3.1").major
