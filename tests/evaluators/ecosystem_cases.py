# ruff: noqa: E501  (the reward functions are kept as their ecosystems publish them)
"""Reward functions written in the exact form of each ecosystem's published ones.

Each cites the source it imitates. `rows` are in that ecosystem's own dataset layout and
`completions` are what a model might answer. Expected scores are never written here: the test
computes them by calling each function the way its ecosystem calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Case:
    id: str
    ecosystem: str  # trl, predibase, verl, openai, reward_kit
    code: str
    rows: list[dict[str, Any]]
    completions: list[str]
    entry: list[str] = field(default_factory=list)  # functions the ecosystem is given


def chat(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


MATH_Q = "What is 6 * 7? Think, then answer."
THINK = ["<think>\n6*7 is 42\n</think>\n42", "42", "<think>a</think><think>b</think>42", "<think>x"]

# TRL conversational layout: prompt as messages (+ any column).
TRL_CHAT = [{"prompt": chat(MATH_Q), "solution": "42"} for _ in THINK]
# TRL plain layout: prompt as text.
TRL_PLAIN = [{"prompt": "Write a 20-character line.", "ground_truth": "ok"} for _ in range(4)]

CASES: list[Case] = [
    # trl/rewards/format_rewards.py, think_format_reward (TRL 1.16, verbatim body).
    Case(
        "trl_think_format_reward",
        "trl",
        """import re


def think_format_reward(completions: list[list[dict[str, str]]], **kwargs) -> list[float]:
    pattern = r"^<think>(?!.*<think>)(.*?)</think>.*$"
    completion_contents = [completion[0]["content"] for completion in completions]
    matches = [re.match(pattern, content, re.DOTALL | re.MULTILINE) for content in completion_contents]
    return [1.0 if match else 0.0 for match in matches]
""",
        TRL_CHAT,
        THINK,
    ),
    # TRL docs, GRPO quickstart: reward_len (negative rewards, plain text completions).
    Case(
        "trl_reward_len",
        "trl",
        """def reward_len(completions, **kwargs):
    return [-abs(20 - len(completion)) for completion in completions]
""",
        TRL_PLAIN,
        ["short", "exactly twenty chars", "a" * 31, ""],
    ),
    # TRL docs, GRPOTrainer "Using a custom reward function": format_reward_func (plain).
    Case(
        "trl_docs_format_reward_func",
        "trl",
        '''import re


def format_reward_func(completions, **kwargs):
    """Reward function that checks if the completion has a specific format."""
    pattern = r"^<think>.*?</think><answer>.*?</answer>$"
    matches = [re.match(pattern, content) for content in completions]
    return [1.0 if match else 0.0 for match in matches]
''',
        TRL_PLAIN,
        [
            "<think>x</think><answer>y</answer>",
            "<answer>y</answer>",
            "<think></think><answer></answer>",
            "no",
        ],
    ),
    # TRL docs, GRPOTrainer: reward_func with a ground_truth column (plain text).
    Case(
        "trl_docs_boxed_ground_truth",
        "trl",
        """import re


def reward_func(completions, ground_truth, **kwargs):
    # Regular expression to capture content inside \\boxed{}
    matches = [re.search(r"\\\\boxed\\{(.*?)\\}", completion) for completion in completions]
    contents = [match.group(1) if match else "" for match in matches]
    # Reward 1 if the content is the same as the ground truth, 0 otherwise
    return [1.0 if c == gt else 0.0 for c, gt in zip(contents, ground_truth)]
""",
        [{"prompt": "6*7?", "ground_truth": "42"}, {"prompt": "1+1?", "ground_truth": "2"}] * 2,
        ["\\\\boxed{42}", "\\\\boxed{3}", "42", "so \\\\boxed{2}"],
    ),
    # trl/rewards/other_rewards.py get_soft_overlong_punishment (the class it returns), named in
    # REWARD_FUNCTIONS as reward_funcs=[get_soft_overlong_punishment(...)] would be.
    Case(
        "trl_soft_overlong_punishment",
        "trl",
        """class _SoftOverlongPunishment:
    def __init__(self, max_completion_len: int, soft_punish_cache: int):
        self.max_completion_len = max_completion_len
        self.soft_punish_cache = soft_punish_cache

    def __call__(self, completion_ids: list[list[int]], **kwargs) -> list[float]:
        rewards = []
        for ids in completion_ids:
            completion_length = len(ids)
            if completion_length <= self.max_completion_len - self.soft_punish_cache:
                rewards.append(0.0)
            elif self.max_completion_len - self.soft_punish_cache < completion_length <= self.max_completion_len:
                rewards.append((self.max_completion_len - self.soft_punish_cache - completion_length) / self.soft_punish_cache)
            else:
                rewards.append(-1.0)
        return rewards


def get_soft_overlong_punishment(max_completion_len: int, soft_punish_cache: int):
    return _SoftOverlongPunishment(max_completion_len, soft_punish_cache)


soft_overlong = get_soft_overlong_punishment(max_completion_len=20, soft_punish_cache=10)
REWARD_FUNCTIONS = [soft_overlong]
""",
        TRL_PLAIN,
        ["short", "fifteen chars!!", "exactly twenty chars", "much longer than twenty characters"],
        ["soft_overlong"],
    ),
    # open-r1 src/open_r1/rewards.py tag_count_reward.
    Case(
        "open_r1_tag_count_reward",
        "trl",
        '''def tag_count_reward(completions, **kwargs) -> list[float]:
    """Reward function that checks if we produce the desired number of think and answer tags."""

    def count_tags(text: str) -> float:
        count = 0.0
        if text.count("<think>\\n") == 1:
            count += 0.25
        if text.count("\\n</think>\\n") == 1:
            count += 0.25
        if text.count("\\n<answer>\\n") == 1:
            count += 0.25
        if text.count("\\n</answer>") == 1:
            count += 0.25
        return count

    contents = [completion[0]["content"] for completion in completions]
    return [count_tags(c) for c in contents]
''',
        TRL_CHAT,
        [
            "<think>\\nx\\n</think>\\n<answer>\\n42\\n</answer>",
            "<think>\\nx",
            "42",
            "\\n<answer>\\n1\\n</answer>",
        ],
    ),
    # open-r1 src/open_r1/rewards.py reasoning_steps_reward.
    Case(
        "open_r1_reasoning_steps_reward",
        "trl",
        '''import re


def reasoning_steps_reward(completions, **kwargs):
    r"""Reward function that checks for clear step-by-step reasoning."""
    pattern = r"(Step \\d+:|^\\d+\\.|\\n-|\\n\\*|First,|Second,|Next,|Finally,)"
    completion_contents = [completion[0]["content"] for completion in completions]
    matches = [len(re.findall(pattern, content)) for content in completion_contents]

    # Magic number 3 to encourage 3 steps and more, otherwise partial reward
    return [min(1.0, count / 3) for count in matches]
''',
        TRL_CHAT,
        ["Step 1: a\\nStep 2: b\\nStep 3: c", "First, x. Finally, y.", "42", "1. a\\n- b"],
    ),
    # unsloth GRPO notebook (Llama 3.1 8B GRPO): correctness_reward_func, 2.0 for a right answer.
    Case(
        "unsloth_correctness_reward_func",
        "trl",
        """def extract_xml_answer(text: str) -> str:
    answer = text.split("<answer>")[-1]
    answer = answer.split("</answer>")[0]
    return answer.strip()


def correctness_reward_func(prompts, completions, answer, **kwargs) -> list[float]:
    responses = [completion[0]['content'] for completion in completions]
    q = prompts[0][-1]['content']
    extracted_responses = [extract_xml_answer(r) for r in responses]
    print('-'*20, f"Question:\\n{q}", f"\\nAnswer:\\n{answer[0]}", f"\\nResponse:\\n{responses[0]}", f"\\nExtracted:\\n{extracted_responses[0]}")
    return [2.0 if r == a else 0.0 for r, a in zip(extracted_responses, answer)]
""",
        [{"prompt": chat(MATH_Q), "answer": "42"} for _ in range(4)],
        [
            "<answer>42</answer>",
            "<answer> 41 </answer>",
            "42",
            "<reasoning>x</reasoning><answer>\\n42\\n</answer>",
        ],
    ),
    # unsloth GRPO notebook: the other four reward functions of the same file — one module,
    # four components (TRL gets reward_funcs=[xmlcount..., soft..., strict..., int...]).
    Case(
        "unsloth_format_rewards_module",
        "trl",
        '''import re


def extract_xml_answer(text: str) -> str:
    answer = text.split("<answer>")[-1]
    answer = answer.split("</answer>")[0]
    return answer.strip()


def int_reward_func(completions, **kwargs) -> list[float]:
    responses = [completion[0]['content'] for completion in completions]
    extracted_responses = [extract_xml_answer(r) for r in responses]
    return [0.5 if r.isdigit() else 0.0 for r in extracted_responses]


def strict_format_reward_func(completions, **kwargs) -> list[float]:
    """Reward function that checks if the completion has a specific format."""
    pattern = r"^<reasoning>\\n.*?\\n</reasoning>\\n<answer>\\n.*?\\n</answer>\\n$"
    responses = [completion[0]["content"] for completion in completions]
    matches = [re.match(pattern, r) for r in responses]
    return [0.5 if match else 0.0 for match in matches]


def soft_format_reward_func(completions, **kwargs) -> list[float]:
    """Reward function that checks if the completion has a specific format."""
    pattern = r"<reasoning>.*?</reasoning>\\s*<answer>.*?</answer>"
    responses = [completion[0]["content"] for completion in completions]
    matches = [re.match(pattern, r) for r in responses]
    return [0.5 if match else 0.0 for match in matches]


def count_xml(text) -> float:
    count = 0.0
    if text.count("<reasoning>\\n") == 1:
        count += 0.125
    if text.count("\\n</reasoning>\\n") == 1:
        count += 0.125
    if text.count("\\n<answer>\\n") == 1:
        count += 0.125
        count -= len(text.split("\\n</answer>\\n")[-1])*0.001
    if text.count("\\n</answer>") == 1:
        count += 0.125
        count -= (len(text.split("\\n</answer>")[-1]) - 1)*0.001
    return count


def xmlcount_reward_func(completions, **kwargs) -> list[float]:
    contents = [completion[0]["content"] for completion in completions]
    return [count_xml(c) for c in contents]
''',
        [{"prompt": chat(MATH_Q), "answer": "42"} for _ in range(4)],
        [
            "<reasoning>\\n6*7\\n</reasoning>\\n<answer>\\n42\\n</answer>\\n",
            "<reasoning>x</reasoning> <answer>42</answer>",
            "42",
            "<reasoning>\\nx\\n</reasoning>\\n<answer>\\nforty-two\\n</answer>\\ntrailing",
        ],
        [
            "int_reward_func",
            "strict_format_reward_func",
            "soft_format_reward_func",
            "xmlcount_reward_func",
        ],
    ),
    # TRL docs: an async reward function (e.g. an LLM judge), run concurrently.
    Case(
        "trl_async_reward",
        "trl",
        """import asyncio


async def async_length_reward(completions, **kwargs):
    await asyncio.sleep(0.01)
    return [min(1.0, len(c[0]["content"]) / 10) for c in completions]
""",
        TRL_CHAT,
        THINK,
    ),
    # TRL docs: None skips the sample ("return None for samples the function does not apply to").
    Case(
        "trl_none_skips",
        "trl",
        """def numeric_only_reward(completions, solution, **kwargs):
    rewards = []
    for completion, sol in zip(completions, solution):
        content = completion[0]["content"].strip()
        if not content.isdigit():
            rewards.append(None)
        else:
            rewards.append(1.0 if content == sol else 0.0)
    return rewards
""",
        TRL_CHAT,
        ["42", "41", "forty-two", "42 "],
    ),
    # TRL docs: trainer_state for a schedule, log_metric for a custom scalar.
    Case(
        "trl_trainer_state_and_log_metric",
        "trl",
        """def scheduled_length_reward(completions, trainer_state, log_metric, **kwargs):
    weight = 1.0 if trainer_state.global_step < 100 else 0.5
    lengths = [len(c[0]["content"]) for c in completions]
    log_metric("mean_length", sum(lengths) / len(lengths))
    return [weight * min(1.0, n / 20) for n in lengths]
""",
        TRL_CHAT,
        THINK,
    ),
    # Predibase docs, GRPO countdown example: two reward functions in one file -> two components.
    Case(
        "predibase_countdown_two_functions",
        "predibase",
        """def format_reward_func(prompt: str, completion: str, example: dict[str, str]) -> int:
    # Imports must be inside the function (Predibase serialises each function on its own).
    import re

    try:
        completion = "<think>" + completion
        regex = r"^<think>([^<]*(?:<(?!/?think>)[^<]*)*)<\\/think>\\n<answer>([\\s\\S]*?)<\\/answer>$"
        match = re.search(regex, completion, re.DOTALL)
        if match is None or len(match.groups()) != 2:
            return 0
        return 1
    except Exception:
        return 0


def equation_reward_func(prompt: str, completion: str, example: dict[str, str]) -> int:
    import ast
    import re

    try:
        match = re.search(r"<answer>(.*?)<\\/answer>", completion)
        if not match:
            return 0
        equation = match.group(1).strip()
        used_numbers = [int(n) for n in re.findall(r"\\d+", equation)]
        nums = example["nums"]
        nums = ast.literal_eval(nums) if isinstance(nums, str) else nums
        if sorted(used_numbers) != sorted(nums):
            return 0
        allowed_pattern = r"^[\\d+\\-*/().\\s]+$"
        if not re.match(allowed_pattern, equation):
            return 0
        result = eval(equation, {"__builtins__": None}, {})
        if abs(float(result) - float(example["target"])) < 1e-5:
            return 1
        return 0
    except Exception:
        return 0
""",
        [
            {"prompt": "Using [3, 5, 2] make 13.", "nums": "[3, 5, 2]", "target": 13}
            for _ in range(4)
        ],
        [
            "3*5-2 is 13</think>\\n<answer>3 * 5 - 2</answer>",
            "</think>\\n<answer>3 + 5 + 2</answer>",
            "<answer>3*5-2</answer>",
            "no idea",
        ],
        ["format_reward_func", "equation_reward_func"],
    ),
    # Predibase docs: a reward function over the example's columns (any name).
    Case(
        "predibase_exact_answer",
        "predibase",
        """def exact_answer(prompt: str, completion: str, example: dict[str, str]) -> float:
    import re

    numbers = re.findall(r"-?\\d+", completion)
    if not numbers:
        return 0.0
    return 1.0 if numbers[-1] == str(example["answer"]) else 0.0
""",
        [{"prompt": "6*7?", "answer": 42}, {"prompt": "2-5?", "answer": -3}] * 2,
        ["It is 42", "-3", "", "41 or 42?"],
    ),
    # Predibase docs: "a non-numeric return counts as 0" — this one returns None or a string.
    Case(
        "predibase_non_numeric_counts_zero",
        "predibase",
        """def length_bonus(prompt: str, completion: str, example: dict[str, str]):
    if not completion:
        return None
    if completion == "n/a":
        return "n/a"
    return len(completion) / 10
""",
        [{"prompt": "Say something."} for _ in range(4)],
        ["hello", "", "n/a", "a longer answer"],
    ),
    # verl verl/utils/reward_score/gsm8k.py compute_score (strict "####" extraction).
    Case(
        "verl_gsm8k_compute_score",
        "verl",
        """import re

_SOLUTION_CLIP_CHARS = 300


def extract_solution(solution_str, method="strict"):
    assert method in ["strict", "flexible"]

    # Optimization: Regular expression matching on very long strings can be slow.
    if len(solution_str) > _SOLUTION_CLIP_CHARS:
        solution_str = solution_str[-_SOLUTION_CLIP_CHARS:]

    if method == "strict":
        solutions = re.findall("#### (\\\\-?[0-9\\\\.\\\\,]+)", solution_str)
        if len(solutions) == 0:
            final_answer = None
        else:
            final_answer = solutions[-1].replace(",", "").replace("$", "")
    elif method == "flexible":
        answer = re.findall("(\\\\-?[0-9\\\\.\\\\,]+)", solution_str)
        final_answer = None
        if len(answer) == 0:
            pass
        else:
            invalid_str = ["", "."]
            for final_answer in reversed(answer):
                if final_answer not in invalid_str:
                    break
    return final_answer


def compute_score(solution_str, ground_truth, method="strict", format_score=0.0, score=1.0):
    answer = extract_solution(solution_str=solution_str, method=method)
    if answer is None:
        return 0
    else:
        if answer == ground_truth:
            return score
        else:
            return format_score
""",
        [
            {
                "data_source": "openai/gsm8k",
                "prompt": chat(
                    "Natalia sold 48 clips... Let's think step by step and output the final answer after '####'."
                ),
                "ability": "math",
                "reward_model": {"style": "rule", "ground_truth": "72"},
                "extra_info": {"split": "train", "index": i},
            }
            for i in range(4)
        ],
        ["48 + 24 = 72\\n#### 72", "#### 71", "72", "#### 1,072"],
    ),
    # verl verl/utils/reward_score/math_dapo.py compute_score: 1.0 / -1.0 and a dict with acc, pred.
    Case(
        "verl_math_dapo_compute_score",
        "verl",
        """import re
from typing import Optional


def last_boxed_only_string(string: str) -> Optional[str]:
    idx = string.rfind("\\\\boxed{")
    if idx < 0:
        return None
    i = idx
    right_brace_idx = None
    num_left_braces_open = 0
    while i < len(string):
        if string[i] == "{":
            num_left_braces_open += 1
        if string[i] == "}":
            num_left_braces_open -= 1
            if num_left_braces_open == 0:
                right_brace_idx = i
                break
        i += 1
    return string[idx : right_brace_idx + 1] if right_brace_idx is not None else None


def normalize_final_answer(final_answer: str) -> str:
    final_answer = final_answer.split("=")[-1]
    final_answer = re.sub(r"(.*?)(\\$)(.*?)(\\$)(.*)", "$\\\\3$", final_answer)
    final_answer = final_answer.replace("$", "").strip()
    if final_answer.replace(",", "").isdigit():
        final_answer = final_answer.replace(",", "")
    return final_answer.strip()


def is_correct_minerva(solution_str: str, gt: str, answer_pattern: str = r"(?i)Answer\\s*:\\s*([^\\n]+)") -> tuple[bool, str]:
    match = re.findall(answer_pattern, solution_str)
    extracted_answer = match[-1] if match else "[INVALID]"
    pred = normalize_final_answer(extracted_answer)
    gt = normalize_final_answer(gt)
    return (pred == gt), pred


def verify(solution_str: str, answer: str, strict_box_verify: bool = False, pause_tokens_index=None) -> tuple[bool, str]:
    correct, pred = is_correct_minerva(solution_str, answer)
    return correct, pred


def compute_score(solution_str: str, ground_truth: str, strict_box_verify: bool = False, pause_tokens_index=None) -> dict:
    # Limit solution length for efficiency
    solution_str = solution_str[-300:]  # The longest answer in MATH-500 has 159 characters

    # Verify the solution
    correct, pred = verify(solution_str, ground_truth, strict_box_verify, pause_tokens_index)

    reward = 1.0 if correct else -1.0
    acc = correct

    return {
        "score": reward,
        "acc": acc,
        "pred": pred,
    }
""",
        [
            {
                "data_source": "math_dapo",
                "prompt": chat("Solve: 6*7. Put the answer after 'Answer:'."),
                "reward_model": {"style": "rule-lighteval/MATH_v2", "ground_truth": "42"},
                "extra_info": {"index": i},
            }
            for i in range(4)
        ],
        ["6*7 = 42\\nAnswer: 42", "Answer: 41", "42", "Answer: $42$"],
    ),
    # verl docs, "Implement Reward Function for Dataset": a custom reward function by name.
    Case(
        "verl_docs_my_reward_fn",
        "verl",
        """def my_reward_fn(data_source, solution_str, ground_truth, extra_info=None):
    return len(solution_str)/100
""",
        [
            {
                "data_source": "custom",
                "prompt": chat("Say hi."),
                "reward_model": {"style": "rule", "ground_truth": ""},
            }
            for _ in range(4)
        ],
        ["hi", "hello there", "", "x" * 250],
    ),
    # verl custom reward reading extra_info (the row's own extra_info column) and data_source.
    Case(
        "verl_custom_extra_info",
        "verl",
        """def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    penalty = 0.5 if (extra_info or {}).get("split") == "test" else 0.0
    base = 1.0 if solution_str.strip() == str(ground_truth) else 0.0
    if data_source == "lenient":
        base = max(base, 0.25)
    return base - penalty
""",
        [
            {
                "data_source": "strict",
                "prompt": chat("2+2?"),
                "reward_model": {"style": "rule", "ground_truth": 4},
                "extra_info": {"split": "train"},
            },
            {
                "data_source": "strict",
                "prompt": chat("2+2?"),
                "reward_model": {"style": "rule", "ground_truth": 4},
                "extra_info": {"split": "test"},
            },
            {
                "data_source": "lenient",
                "prompt": chat("2+2?"),
                "reward_model": {"style": "rule", "ground_truth": 4},
                "extra_info": {"split": "train"},
            },
            {
                "data_source": "lenient",
                "prompt": chat("2+2?"),
                "reward_model": {"style": "rule", "ground_truth": 4},
                "extra_info": None,
            },
        ],
        ["4", "4", "five", "4"],
    ),
    # OpenAI graders guide, python grader: grade(sample, item) with output_text and item fields.
    Case(
        "openai_python_grader_exact",
        "openai",
        """def grade(sample, item) -> float:
    output_text = sample["output_text"]
    reference_answer = item["reference_answer"]
    return 1.0 if output_text.strip().lower() == reference_answer.strip().lower() else 0.0
""",
        [{"messages": chat("Capital of France?"), "reference_answer": "Paris"} for _ in range(4)],
        ["Paris", " paris ", "Lyon", ""],
    ),
    # OpenAI RFT guide: structured output graded through sample["output_json"].
    Case(
        "openai_python_grader_output_json",
        "openai",
        """def grade(sample: dict, item: dict) -> float:
    output = sample.get("output_json") or {}
    if not isinstance(output, dict):
        return 0.0
    score = 0.0
    if output.get("answer") == item["correct_answer"]:
        score += 0.7
    if isinstance(output.get("confidence"), (int, float)):
        score += 0.3
    return score
""",
        [{"messages": chat("JSON please: 6*7"), "correct_answer": 42} for _ in range(4)],
        ['{"answer": 42, "confidence": 0.9}', '{"answer": 41}', "42", '{"answer": 42}'],
    ),
    # OpenAI graders guide: partial credit over several item fields (any float).
    Case(
        "openai_python_grader_keywords",
        "openai",
        """def grade(sample, item):
    text = sample["output_text"].lower()
    keywords = item["keywords"]
    hits = sum(1 for k in keywords if k.lower() in text)
    return hits / len(keywords)
""",
        [
            {
                "messages": chat("Describe photosynthesis."),
                "keywords": ["light", "chlorophyll", "glucose"],
            }
            for _ in range(4)
        ],
        ["Light and chlorophyll make glucose.", "light", "nothing", "CHLOROPHYLL and Light"],
    ),
    # trl/rewards/accuracy_rewards.py accuracy_reward (TRL 1.16): math-verify, None when the gold
    # solution does not parse.
    Case(
        "trl_accuracy_reward_math_verify",
        "trl",
        """from latex2sympy2_extended import NormalizationConfig
from math_verify import LatexExtractionConfig, parse, verify


def accuracy_reward(completions: list[list[dict[str, str]]], solution: list[str], log_extra=None, **kwargs) -> list[float | None]:
    contents = [completion[0]["content"] for completion in completions]
    rewards = []
    for content, sol in zip(contents, solution, strict=True):
        gold_parsed = parse(sol, extraction_mode="first_match")
        if len(gold_parsed) != 0:
            answer_parsed = parse(
                content,
                extraction_config=[
                    LatexExtractionConfig(
                        normalization_config=NormalizationConfig(units=True),
                        boxed_match_priority=0,
                        try_extract_without_anchor=False,
                    )
                ],
                extraction_mode="first_match",
            )
            reward = float(verify(gold_parsed, answer_parsed))
        else:
            reward = None
        rewards.append(reward)
    return rewards
""",
        [
            {"prompt": chat("Compute 1/2 + 1/4."), "solution": s}
            for s in ["$\\frac{3}{4}$"] * 3 + ["no math"]
        ],
        [
            "The answer is $\\boxed{\\frac{3}{4}}$",
            "$\\boxed{0.75}$",
            "$\\boxed{1}$",
            "$\\boxed{2}$",
        ],
    ),
    # OpenAI graders guide, python grader: rapidfuzz's WRatio against the reference answer.
    Case(
        "openai_python_grader_rapidfuzz",
        "openai",
        """from rapidfuzz import fuzz, utils


def grade(sample, item) -> float:
    output_text = sample["output_text"]
    reference_answer = item["reference_answer"]
    return fuzz.WRatio(output_text, reference_answer, processor=utils.default_process) / 100.0
""",
        [
            {"messages": chat("Say it."), "reference_answer": "fuzzy wuzzy had no hair"}
            for _ in range(4)
        ],
        ["fuzzy wuzzy was a bear", "fuzzy wuzzy had no hair", "FUZZY wuzzy!", ""],
    ),
    # reward-kit README: @reward_function evaluate(messages: List[Message], ...) -> EvaluateResult.
    Case(
        "reward_kit_word_count",
        "reward_kit",
        '''from typing import List, Optional

from reward_kit import EvaluateResult, MetricResult, reward_function
from reward_kit.models import Message


@reward_function
def evaluate(messages: List[Message], original_messages: Optional[List[Message]] = None, **kwargs) -> EvaluateResult:
    """Evaluate the word count of the assistant's response."""
    if not messages or messages[-1].role != "assistant":
        return EvaluateResult(score=0.0, reason="No assistant response", metrics={})
    response = messages[-1].content or ""
    word_count = len(response.split())
    score = min(word_count / 100.0, 1.0)
    return EvaluateResult(
        score=score,
        reason=f"Word count: {word_count}",
        metrics={
            "word_count": MetricResult(score=score, success=word_count > 10, reason=f"Word count: {word_count}")
        },
    )
''',
        [{"messages": chat("Write about cats.")} for _ in range(4)],
        [
            "Cats are great.",
            " ".join(["word"] * 150),
            "",
            "one two three four five six seven eight nine ten eleven",
        ],
    ),
    # reward-kit examples/math_example: ground_truth as a keyword, dict result.
    Case(
        "reward_kit_exact_match_dict",
        "reward_kit",
        """from reward_kit import reward_function


@reward_function
def exact_match(messages, ground_truth=None, **kwargs):
    answer = (messages[-1]["content"] or "").strip()
    ok = answer == str(ground_truth).strip()
    return {"score": 1.0 if ok else 0.0, "reason": "match" if ok else "differs", "is_score_valid": True}
""",
        [{"messages": chat("6*7?"), "ground_truth": "42"} for _ in range(4)],
        ["42", " 42 ", "41", ""],
    ),
    # reward-kit README: a plain evaluate(messages, **kwargs) returning a float.
    Case(
        "reward_kit_plain_evaluate",
        "reward_kit",
        """def evaluate(messages, **kwargs):
    text = messages[-1]["content"]
    return 1.0 if text.endswith(".") else 0.0
""",
        [{"messages": chat("A sentence, please.")} for _ in range(4)],
        ["Done.", "Done", "", "..."],
    ),
    # reward-kit: the bundled reward_kit.rewards functions, called as its examples call them.
    Case(
        "reward_kit_rewards_length",
        "reward_kit",
        """from reward_kit import reward_function
from reward_kit.rewards.length import length_reward


@reward_function
def evaluate(messages, **kwargs):
    return length_reward(messages=messages, target_length=5, token_method="whitespace")
""",
        [{"messages": chat("Five words please.")} for _ in range(4)],
        ["one two three four five", "one", "", "one two three four five six seven eight nine ten"],
    ),
    # reward-kit examples/math_example/main.py: math_reward with the row's ground_truth.
    Case(
        "reward_kit_rewards_math",
        "reward_kit",
        """from typing import Any, List

from reward_kit import EvaluateResult, Message, reward_function
from reward_kit.rewards.math import math_reward


@reward_function
def evaluate(messages: List[Message], ground_truth: str, **kwargs: Any) -> EvaluateResult:
    return math_reward(messages=messages, ground_truth=ground_truth, **kwargs)
""",
        [{"messages": chat(MATH_Q), "ground_truth": "42"} for _ in range(4)],
        ["So it is \\boxed{42}.", "#### 42", "6 * 7 = 42", "\\boxed{41}"],
    ),
    # reward-kit's accuracy_reward and cosine_scaled_accuracy_length_reward (ground truth given
    # as messages, as they take it).
    Case(
        "reward_kit_rewards_accuracy_length",
        "reward_kit",
        """from reward_kit import reward_function
from reward_kit.rewards.accuracy import accuracy_reward
from reward_kit.rewards.accuracy_length import cosine_scaled_accuracy_length_reward


@reward_function
def evaluate(messages, ground_truth=None, **kwargs):
    truth = [{"role": "assistant", "content": str(ground_truth)}]
    accuracy = accuracy_reward(messages=messages, ground_truth=truth)
    combined = cosine_scaled_accuracy_length_reward(
        messages=messages, ground_truth=truth, max_length=20
    )
    return {"score": (accuracy.score + combined.score) / 2, "metrics": combined.metrics}
""",
        [{"messages": chat(MATH_Q), "ground_truth": "42"} for _ in range(4)],
        ["The answer is 42", "I think it's 40", "no idea", "The result: 42 " + "and more " * 9],
    ),
]
