class ParamModel:
    def __init__(self, count=0, ratio=0.0, label="", flag=False, config=None):
        self.values = {"count": count, "ratio": ratio, "label": label, "flag": flag, "config": config}

    def predict(self, X, feature_names):
        return self.values
