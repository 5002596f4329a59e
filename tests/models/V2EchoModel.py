import numpy as np


class V2EchoModel:
    """What predict was given, as outputs: the type of X, its keys and the meta it saw."""

    def predict(self, X, feature_names, meta=None):
        kind = "dict" if isinstance(X, dict) else type(X).__name__
        writeable = all(a.flags.writeable for a in (X.values() if isinstance(X, dict) else [X]))
        return {
            "kind": np.array([kind.encode()], dtype=object),
            "names": np.array([n.encode() for n in feature_names], dtype=object),
            "id": np.array([str((meta or {}).get("id")).encode()], dtype=object),
            "parameters": np.array([str(sorted((meta or {}).get("parameters", {}).items())).encode()], dtype=object),
            "writeable": np.array([writeable]),
        }
