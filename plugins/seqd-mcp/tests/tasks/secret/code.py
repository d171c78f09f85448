def run(ctx):
    return {"secret": "s3cr3t"}
