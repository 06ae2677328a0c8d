"""Length penalty (target word count).

Predibase-style reward_fn(prompt, completion, example): rewards replies whose length is close
to a target. The row field `target_words` sets it (default TARGET_WORDS); replies within
TOLERANCE (a share of the target, default 20%) score 1.0, and the score falls linearly to 0.0
at twice the target or at zero words. Combine it with a correctness evaluator to discourage
rambling without rewarding empty answers.
"""

from typing import Any

TARGET_WORDS = 100
TOLERANCE = 0.2


def length_reward(prompt: str, completion: str, example: dict[str, Any]) -> float:
    target = int(example.get("target_words") or TARGET_WORDS)
    count = len(completion.split())
    distance = abs(count - target) / target
    if distance <= TOLERANCE:
        return 1.0
    return max(0.0, 1.0 - (distance - TOLERANCE) / (1.0 - TOLERANCE))
