def run(ctx, path: str):
    def effect():
        with open(path, "a") as f:
            f.write(f"attempt {ctx.attempt}\n")
        return ctx.attempt

    seen = ctx.step("effect", effect)
    if ctx.attempt == 1:
        raise RuntimeError("first attempt fails")
    return seen
