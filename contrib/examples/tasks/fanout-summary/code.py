"""The fan-in: one summary of every text's counts."""


def run(ctx, counts: list):
    words = [c["words"] for c in counts]
    longest = max(range(len(counts)), key=words.__getitem__) if counts else None
    return {
        "texts": len(counts),
        "words": sum(words),
        "chars": sum(c["chars"] for c in counts),
        "longest": counts[longest]["index"] if longest is not None else None,
    }
