class MetaEchoModel:
    """MODEL answering jsonData with the meta and names it received."""

    def predict(self, X, features_names=None, meta=None):
        return {
            "meta": meta if meta is not None else None,
            "names": list(features_names) if features_names is not None else None,
        }
