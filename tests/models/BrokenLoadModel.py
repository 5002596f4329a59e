class BrokenLoadModel:
    def load(self):
        raise RuntimeError("weights file missing")

    def predict(self, X, feature_names):
        return X
