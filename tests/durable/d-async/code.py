import asyncio


async def run(ctx, seconds: float = 1.0):
    await asyncio.sleep(0)
    value = ctx.step("value", lambda: 41)
    try:
        ctx.sleep(seconds)
    except Exception:
        return "swallowed"  # must not happen: Suspend is not an Exception
    return value + 1
