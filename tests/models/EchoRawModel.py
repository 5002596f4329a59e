class EchoRawModel:
    """MODEL using predict_raw.

    REST: the raw message is the decoded JSON body (dict, or whatever JSON was sent).
    gRPC: the raw message is a seldon.protos.SeldonMessage; a new message of the
    same class is built with type(msg)() so no seldon_core import is needed.
    The answer echoes the request and adds meta.tags.raw = "yes".
    """

    def predict_raw(self, msg):
        if isinstance(msg, dict):
            out = dict(msg)
            meta = dict(out.get("meta") or {})
            tags = dict(meta.get("tags") or {})
            tags["raw"] = "yes"
            meta["tags"] = tags
            out["meta"] = meta
            return out
        if isinstance(msg, (list, str, int, float, bool)) or msg is None:
            return {"jsonData": {"echo": msg}}
        # protobuf SeldonMessage
        out = type(msg)()
        out.CopyFrom(msg)
        out.meta.tags["raw"].string_value = "yes"
        return out
