import os
import time


def run(ctx, path: str, gate: str = "", n: int = 3):
    def effect(tag):
        with open(path, "a") as f:
            f.write(tag + "\n")
        return tag

    def slow():
        effect("slow-start")
        while gate and not os.path.exists(gate):
            time.sleep(0.02)
        return effect("slow-end")

    results = [ctx.step("first", effect, "first"), ctx.step("slow", slow)]
    results += [ctx.step(f"s{i}", effect, f"s{i}") for i in range(n)]
    return results
