"""modelserve: serve a user's Python model over REST and gRPC."""

from modelserve.model.component import SeldonResponse
from modelserve.version import __version__

__all__ = ["SeldonResponse", "__version__"]
