def run(ctx):
    ctx.metric("resume_before")
    ctx.sleep(0.3)
    ctx.metric("resume_after")
    return "done"
