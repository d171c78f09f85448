def run(ctx, n: int = 3, user: str = "ada"):
    for _ in range(n):
        ctx.metric("items_done", 1, table="users")
    ctx.metric("batch_size", n, kind="gauge")
    ctx.metric("step_seconds", 0.2, "histogram")
    ctx.metric("per_user", 1, user=user)
    try:
        ctx.metric("bad name")
    except ValueError as exc:
        ctx.log(f"refused: {exc}")
    return {"n": n}
