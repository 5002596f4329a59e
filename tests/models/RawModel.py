class RawModel:
    """predict_raw answers with a status code chosen by the request."""

    def predict_raw(self, message):
        if isinstance(message, (bytes, str)):
            text = message.decode() if isinstance(message, bytes) else message
            return '{"passthrough": %d}' % len(text)
        code = message.get("jsonData", {}).get("code", 200)
        return {
            "jsonData": {"echo": message.get("jsonData")},
            "status": {"code": code},
            "meta": {"metrics": [{"type": "COUNTER", "key": "raw_calls", "value": 1}]},
        }
