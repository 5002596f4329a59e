from ConcurrencyModel import AsyncConcurrencyModel

__all__ = ["AsyncConcurrencyModel"]
