def run(ctx, n=0):
    ctx.log(f"quick {n}")
    return n
