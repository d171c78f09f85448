def run(ctx, message: str = "boom"):
    raise RuntimeError(message)
