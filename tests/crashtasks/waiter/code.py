def run(ctx):
    return {"got": ctx.wait_signal("go")}
