"""reward_kit.typed_interface: the decorator."""

from ..results import reward_function

__all__ = ["reward_function"]
