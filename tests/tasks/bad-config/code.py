def run(ctx):
    return 1
