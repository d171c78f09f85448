def run(ctx, **inputs):
    return {"input": inputs, "attempt": ctx.attempt, "run_id": ctx.run_id}
