"""modelserve: serve a user's Python model over REST and gRPC."""

from modelserve.model.component import SeldonResponse

__version__ = "0.1.0"

__all__ = ["SeldonResponse", "__version__"]
