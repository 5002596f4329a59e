import asyncio


class AsyncModel:
    """async predict: doubles numeric input after yielding to the loop."""

    async def predict(self, X, feature_names):
        await asyncio.sleep(0)
        return X * 2
