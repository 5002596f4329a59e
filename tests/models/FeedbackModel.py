import numpy as np


class FeedbackModel:
    """MODEL with send_feedback.

    send_feedback answers [[reward, routing (or -1), size(truth), size(features)]]
    so that the recorded answer shows what the server parsed from the Feedback.
    """

    def predict(self, X, features_names=None, **kwargs):
        return X

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        return [
            [float(reward), float(-1 if routing is None else routing), float(np.size(truth)), float(np.size(features))]
        ]
