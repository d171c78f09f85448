"""ETL step 3: rows out to a JSON-lines file; a crash never leaves half a file."""

import json
import os


def run(ctx, rows: list, path: str):
    path = os.path.abspath(path)
    temp = f"{path}.tmp-{os.getpid()}"
    with open(temp, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, sort_keys=True) + "\n")
    os.replace(temp, path)
    ctx.log(f"wrote {len(rows)} rows to {path}")
    return {"written": len(rows), "path": path}
