def run(ctx):
    ctx.log("waiting for approval")
    return {"approved": ctx.wait_signal("approved", timeout_s=600)}
