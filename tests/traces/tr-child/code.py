def run(ctx, x: int = 0):
    return {"trace_id": ctx.trace_id, "root_id": ctx.root_id, "parent_id": ctx.parent_id}
