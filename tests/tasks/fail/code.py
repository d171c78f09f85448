def run(ctx, message: str = "bad value"):
    ctx.log("about to fail")
    raise ValueError(message)
