def run(ctx, seconds: float = 3600.0):
    ctx.sleep(seconds)
    return None
