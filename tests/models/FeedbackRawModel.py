class FeedbackRawModel:
    """send_feedback_raw names what it was given: a Feedback message on both transports."""

    def predict(self, X, feature_names, **kwargs):
        return X

    def send_feedback_raw(self, feedback):
        return {"strData": f"{feedback.DESCRIPTOR.full_name} reward={feedback.reward}", "meta": {}}
