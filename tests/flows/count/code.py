def run(ctx, path: str, tag: str = "x"):
    with open(path, "a") as f:
        f.write(tag + "\n")
    with open(path) as f:
        return sum(1 for _ in f)
