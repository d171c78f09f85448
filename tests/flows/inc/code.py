def run(ctx, n: int = 0):
    return {"n": n + 1}
