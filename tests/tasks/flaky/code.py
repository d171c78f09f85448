def run(ctx, succeed_on: int = 2):
    if ctx.attempt < succeed_on:
        raise RuntimeError(f"attempt {ctx.attempt} fails")
    return ctx.attempt
