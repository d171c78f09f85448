def run(ctx, path: str):
    def boom():
        with open(path, "a") as f:
            f.write("boom\n")
        raise ValueError("bad value")

    try:
        ctx.step("boom", boom)
    except ctx.StepFailed as exc:
        return {"type": exc.type, "message": exc.message, "details": exc.details}
    return None
