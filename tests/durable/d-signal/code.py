def run(ctx, timeout_s: float | None = None):
    first = ctx.wait_signal("go")
    second = ctx.wait_signal("go")
    try:
        extra = ctx.wait_signal("extra", timeout_s=timeout_s)
    except TimeoutError as exc:
        extra = f"timeout: {exc}"
    return {"first": first, "second": second, "extra": extra}
