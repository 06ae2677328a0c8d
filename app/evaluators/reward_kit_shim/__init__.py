"""A stand-in for Fireworks' `reward-kit` package, importable as `reward_kit` in the sandbox.

The real package does not install cleanly beside this app (it pins older datasets/fsspec), so
these modules cover its public names as its README and examples use them: `reward_function`,
`RewardFunction`, `EvaluateResult`, `MetricResult`, `Message`, `StepOutput`, `load_jsonl`,
`reward_kit.models`, `reward_kit.typed_interface`, `reward_kit.reward_function`,
`reward_kit.rewards.length` (with `cosine_length_reward`), `reward_kit.rewards.format`,
`reward_kit.rewards.accuracy`, `reward_kit.rewards.math` and
`reward_kit.rewards.accuracy_length`. runtime.install_reward_kit registers each module under its
`reward_kit.*` name.
"""

from ..results import EvaluateResult, Message, MetricResult, reward_function
from .functions import RewardFunction, load_jsonl
from .models import StepOutput

__all__ = [
    "EvaluateResult",
    "Message",
    "MetricResult",
    "RewardFunction",
    "StepOutput",
    "load_jsonl",
    "reward_function",
]
