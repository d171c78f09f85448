"""ETL step 1: CSV text in, a list of row objects out (keys from the header row)."""

import csv
import io


def run(ctx, text: str):
    rows = list(csv.DictReader(io.StringIO(text)))
    ctx.log(f"extracted {len(rows)} rows")
    return {"rows": rows, "count": len(rows)}
