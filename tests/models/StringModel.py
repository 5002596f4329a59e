class StringModel:
    """MODEL returning strings.

    - strData input  -> strData output (upper-cased)
    - anything else  -> a 2-D list of strings, one row per input row
    """

    def predict(self, X, features_names=None, **kwargs):
        if isinstance(X, str):
            return X.upper()
        try:
            n = len(X)
        except TypeError:
            n = 1
        return [[f"label-{i}", "ok"] for i in range(n)]
