"""An example GRPO reward file for TuneDesk: every function named reward_* scores completions.

Use it with  reward_functions: python:1  and  reward_file: samples/eval/rewards_example.py
Each function gets the prompts, the completions as text, and the dataset's other columns by name
(`reference` holds the row's reference answer, if any); it returns one number per completion.
"""


def reward_polite(prompts, completions, **columns):
    """1 when the answer thanks or greets the user, else 0."""
    words = ("thank", "please", "glad", "happy to", "谢谢", "请", "很高兴")
    return [1.0 if any(w in c.lower() for w in words) else 0.0 for c in completions]


def reward_no_shouting(prompts, completions, **columns):
    """Penalise answers written mostly in capital letters."""
    out = []
    for c in completions:
        letters = [ch for ch in c if ch.isalpha() and ch.isascii()]
        upper = sum(ch.isupper() for ch in letters) / len(letters) if letters else 0.0
        out.append(1.0 - upper)
    return out
