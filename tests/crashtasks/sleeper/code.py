import time


def run(ctx, seconds: float = 2.0):
    ctx.sleep(seconds)
    return ctx.step("woke", time.time)
