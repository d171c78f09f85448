"""ETL step 2: clean each row; rows whose amount is not a number are dropped and logged."""


def run(ctx, rows: list):
    kept = []
    for number, row in enumerate(rows, start=1):
        name = " ".join(str(row.get("name", "")).split()).title()
        try:
            amount = round(float(row.get("amount", "")), 2)
        except ValueError:
            ctx.log(f"row {number}: amount {row.get('amount')!r} is not a number; dropped")
            continue
        kept.append({"name": name, "amount": amount})
    return {"rows": kept, "dropped": len(rows) - len(kept)}
