"""LLM as judge (OpenAI-compatible endpoint).

Asks a judge model to grade the reply from 0 to 10 against the row's `rubric` (and
`ground_truth`, when present), and scores grade / 10. The judge is any OpenAI-compatible
chat endpoint, called with urllib: set BASE_URL, MODEL and API_KEY below, or per row with the
fields `judge_base_url`, `judge_model`, `judge_api_key`. Unconfigured, every sample is marked
invalid (skipped in training) with a reason saying so. This evaluator needs the network
(NEEDS_NETWORK = True): it runs only in pools started with allow_network=True, in a worker that
keeps the network but is otherwise sandboxed like the others.
"""

import json
import re
import urllib.request
from typing import Any

NEEDS_NETWORK = True
BASE_URL = ""  # e.g. "http://localhost:8000/v1"
MODEL = "judge"
API_KEY = ""
TIMEOUT_S = 30
PROMPT = """You are grading an answer.
Rubric: {rubric}
Reference answer: {reference}
Question: {question}
Answer to grade: {answer}
Reply with a line "SCORE: <0-10>" and nothing else."""


def ask_judge(base_url: str, model: str, api_key: str, prompt: str) -> str:
    body = json.dumps(
        {"model": model, "messages": [{"role": "user", "content": prompt}], "temperature": 0}
    )
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/chat/completions", data=body.encode(), headers=headers
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return str(json.loads(response.read())["choices"][0]["message"]["content"] or "")


def evaluate(messages: list[dict[str, Any]], **fields: Any) -> dict:
    base_url = fields.get("judge_base_url") or BASE_URL
    if not base_url:
        return {
            "score": 0.0,
            "is_score_valid": False,
            "reason": "LLM judge not configured: set BASE_URL or judge_base_url",
        }
    question = next(
        (m.get("content") for m in reversed(messages[:-1]) if m.get("role") == "user"), ""
    )
    prompt = PROMPT.format(
        rubric=fields.get("rubric") or "Is the answer correct, complete and concise?",
        reference=fields.get("ground_truth") or "(none)",
        question=question,
        answer=messages[-1].get("content") or "",
    )
    reply = ask_judge(
        base_url, fields.get("judge_model") or MODEL, fields.get("judge_api_key") or API_KEY, prompt
    )
    found = re.search(r"SCORE:\s*(\d+(?:\.\d+)?)", reply)
    if not found:
        return {
            "score": 0.0,
            "is_score_valid": False,
            "reason": f"the judge gave no score: {reply[:200]!r}",
        }
    grade = min(max(float(found.group(1)), 0.0), 10.0)
    return {"score": grade / 10.0, "reason": f"judge: {reply.strip()[:300]}"}
