import asyncio


async def run(ctx, delay: float = 0.01, value: str = "x"):
    await asyncio.sleep(delay)
    return value
