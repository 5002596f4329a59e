class MyTransformer:
    """Centres its input before the model, rounds the model's output after it."""

    def transform_input(self, X, feature_names):
        return X - 10

    def transform_output(self, X, feature_names):
        return X.round()
