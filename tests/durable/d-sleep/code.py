import time


def run(ctx, path: str, seconds: float = 1.0, until: str = ""):
    def effect(tag):
        with open(path, "a") as f:
            f.write(tag + "\n")
        return time.time()

    before = ctx.step("before", effect, "before")
    if until:
        ctx.sleep_until(until)
    else:
        ctx.sleep(seconds)
    after = ctx.step("after", effect, "after")
    return {"slept": after - before}
