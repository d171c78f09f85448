"""Classifies a ticket by the words in it (a stand-in for a model or a rules engine)."""

URGENT = {"down", "outage", "urgent", "breach", "data loss"}
SPAM = {"winner", "free money", "crypto giveaway"}


def run(ctx, title: str, body: str):
    text = f"{title}\n{body}".lower()
    if not text.strip():
        raise ValueError("the ticket has neither a title nor a body")
    for priority, words in (("urgent", URGENT), ("spam", SPAM)):
        hits = sorted(w for w in words if w in text)
        if hits:
            return {"priority": priority, "reason": f"mentions {', '.join(hits)}"}
    return {"priority": "normal", "reason": "no urgent or spam words"}
