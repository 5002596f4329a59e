"""The gRPC transport of the Seldon protocol (``seldon.protos``)."""
