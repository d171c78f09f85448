def run(ctx, path: str, n: int = 3):
    with open(path, "a") as f:
        f.write("call\n")
    with open(path) as f:
        calls = sum(1 for _ in f)
    if calls < n:
        raise RuntimeError(f"call {calls} of {n} fails")
    return calls
