"""Evaluator runtime: the contract, the sandboxed worker pool and the built-in graders.

Everything here uses relative imports: inside the sandbox this package is mounted as
`rft_evaluators`, without the rest of the app.
"""

from .contract import (
    EvaluatorSpec,
    check_code,
    component_spec,
    load_evaluator_spec,
    with_env,
)
from .pool import EvaluatorPool
from .results import EvaluateResult, Message, MetricResult, reward_function
from .starters import Template, get_template, list_templates
from .values import Component, EntryPointInfo, EvaluatorCodeError, Metric, Sample, SampleResult

__all__ = [
    "Component",
    "EntryPointInfo",
    "EvaluateResult",
    "EvaluatorCodeError",
    "EvaluatorPool",
    "EvaluatorSpec",
    "Message",
    "Metric",
    "MetricResult",
    "Sample",
    "SampleResult",
    "Template",
    "check_code",
    "component_spec",
    "get_template",
    "list_templates",
    "load_evaluator_spec",
    "reward_function",
    "with_env",
]
