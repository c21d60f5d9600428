"""Small text helpers shared by the grader's modules."""


def clip(text, limit):
    """``text`` cut to at most ``limit`` characters, saying so when it was cut."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 15] + " ... (truncated)"
