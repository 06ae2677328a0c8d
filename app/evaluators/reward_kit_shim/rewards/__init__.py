"""reward_kit.rewards: the bundled reward functions this stand-in carries (length, format)."""

from . import format, length
from .format import format_reward
from .length import count_tokens, length_reward

__all__ = ["count_tokens", "format", "format_reward", "length", "length_reward"]
