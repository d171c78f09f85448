def run(ctx, path: str, fail: bool = False):
    one = ctx.run_task("d-count", {"path": path, "tag": "one"})
    handle = ctx.start_task("d-count", {"path": path, "tag": "two", "seconds": 1.0})
    ctx.step("between", lambda: handle.id)
    two = handle.result()
    out = {"one": one, "two": two, "two_id": handle.id}
    if fail:
        try:
            ctx.run_task("d-count", {"path": path, "tag": "bad", "fail": True})
        except ctx.ChildFailed as exc:
            out["failed"] = {"type": exc.type, "child_id": exc.child_id}
        try:
            ctx.run_task("no-such-task")
        except ctx.ChildFailed as exc:
            out["missing"] = exc.type
    return out
