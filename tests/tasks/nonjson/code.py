def run(ctx):
    return object()
