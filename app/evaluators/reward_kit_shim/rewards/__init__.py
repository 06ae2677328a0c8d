"""reward_kit.rewards: the bundled reward functions this stand-in carries (accuracy, math,
length with its cosine schedule, accuracy_length, format)."""

from . import accuracy, accuracy_length, format, length, math
from .accuracy import accuracy_reward
from .accuracy_length import cosine_scaled_accuracy_length_reward
from .format import format_reward
from .length import cosine_length_reward, count_tokens, length_reward
from .math import math_reward

__all__ = [
    "accuracy",
    "accuracy_length",
    "accuracy_reward",
    "cosine_length_reward",
    "cosine_scaled_accuracy_length_reward",
    "count_tokens",
    "format",
    "format_reward",
    "length",
    "length_reward",
    "math",
    "math_reward",
]
