"""Counts one text's words: the task a map state runs once per item."""


def run(ctx, text: str, index: int = 0):
    return {"index": index, "words": len(text.split()), "chars": len(text)}
