from google.protobuf import any_pb2


class AnyModel:
    """MODEL: customData comes back as is; anything else answers an Any of the default pool."""

    def predict(self, X, features_names=None, **kwargs):
        if hasattr(X, "type_url"):
            return X
        return any_pb2.Any(type_url="type.googleapis.com/example.Thing", value=b"\x08\x01")
