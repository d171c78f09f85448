def boom():
    raise ValueError("asked to fail")


def run(ctx, fail: bool = False):
    a = ctx.step("prepare", lambda: 1)
    ctx.tool("kv.set", key="traced", value=a)
    child = ctx.run_task("tr-child", {"x": a})
    ctx.sleep(0.05)
    if fail:
        ctx.step("explode", boom)
    return {
        "trace_id": ctx.trace_id,
        "root_id": ctx.root_id,
        "parent_id": ctx.parent_id,
        "traceparent": ctx.traceparent,
        "child": child,
    }
