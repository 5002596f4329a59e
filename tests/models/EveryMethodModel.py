class EveryMethodModel:
    """Every optional method of the user-class contract, none of which raises whatever it is
    given: what a fuzzer's request reaches is the server's own code (tests/fuzz).

    predict, transform_input and transform_output answer their input; route answers 0,
    aggregate the first message's data; explain and health_status answer fixed objects.
    """

    def predict(self, X, feature_names, meta=None):
        return X

    def transform_input(self, X, feature_names, meta=None):
        return X

    def transform_output(self, X, feature_names, meta=None):
        return X

    def route(self, X, feature_names):
        return 0

    def aggregate(self, features_list, feature_names_list):
        return features_list[0]

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        return None

    def explain(self, X, feature_names):
        return {"explanations": {"method": "none"}}

    def health_status(self):
        return {"healthy": True}

    def tags(self):
        return {"fuzzed": True}

    def metrics(self):
        return [{"type": "COUNTER", "key": "fuzzed_requests", "value": 1}]

    def init_metadata(self):
        return {
            "name": "every-method",
            "versions": ["1"],
            "platform": "tests",
            "inputs": [{"name": "input-0", "datatype": "FP64", "shape": [-1]}],
            "outputs": [{"name": "output-0", "datatype": "FP64", "shape": [-1]}],
            "custom": {"purpose": "fuzzing"},
        }
