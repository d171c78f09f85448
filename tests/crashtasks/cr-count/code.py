def run(ctx, path: str, tag: str):
    with open(path, "a") as f:
        f.write(tag + "\n")
    return tag
