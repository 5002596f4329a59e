from scaling import scale


class Scaler:
    def predict(self, X, feature_names):
        return scale(X)
