import logging

logger = logging.getLogger("LoggingModel")


class LoggingModel:
    """Logs at DEBUG and INFO from predict (the user's own logging calls), returns its input."""

    def predict(self, X, feature_names):
        logger.debug("model debug message %s", X)
        logger.info("model info message %s", X)
        return X
