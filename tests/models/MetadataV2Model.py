class MetadataV2Model:
    """A model with V2 metadata (and a Seldon one, left out of V2)."""

    def predict(self, X, feature_names):
        return X

    def init_metadata(self):
        return {
            "platform": "custom",
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}, {"messagetype": "ndarray"}],
            "outputs": [{"name": "y", "datatype": "FP64", "shape": [-1, 3]}],
            "custom": {"author": "me"},
        }
