"""Code execution against test cases.

Takes the Python code from the reply (the last ```python fenced block, else the whole reply),
runs it, then runs each test of the row field `tests` — a list of statements such as
"assert add(2, 3) == 5" — in the same namespace. Score: the share of tests that pass (0.0 when
the code does not even run). Each test gets TEST_TIMEOUT_S seconds of wall clock (a SIGALRM
timer); after a timeout the remaining tests count as failed without running, so a hanging
solution stays within the pool's per-row limit (which also stops C-level loops).
The code runs inside the evaluator sandbox: no network, no writable files outside /tmp.
"""

import re
import signal
from typing import Any

FENCE = re.compile(r"```(?:python|py)?\s*\n(.*?)```", re.DOTALL)
TEST_TIMEOUT_S = 1.0


class CaseTimeout(Exception):
    pass


def on_alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout(f"took longer than {TEST_TIMEOUT_S:g} s")


def run_guarded(source: str, namespace: dict) -> str | None:
    """Execute `source`; None on success, else why it failed."""
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIMEOUT_S)
    try:
        exec(compile(source, "<candidate>", "exec"), namespace)
        return None
    except CaseTimeout as exc:
        return str(exc)
    except BaseException as exc:  # the candidate may raise anything, SystemExit included
        return f"{type(exc).__name__}: {exc}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def extract_code(reply: str) -> str:
    blocks = FENCE.findall(reply)
    return blocks[-1] if blocks else reply


def evaluate(messages: list[dict[str, Any]], tests: Any = None, **fields: Any) -> dict:
    if not tests:
        return {"score": 0.0, "is_score_valid": False, "reason": "row has no tests"}
    namespace: dict[str, Any] = {"__name__": "candidate"}
    failure = run_guarded(extract_code(str(messages[-1].get("content") or "")), namespace)
    if failure:
        return {"score": 0.0, "reason": f"the code does not run: {failure}"}
    failed = []
    for number, test in enumerate(tests):
        problem = run_guarded(test, namespace)
        if problem:
            failed.append(f"{test} -> {problem}")
        if problem and problem.startswith("took longer"):
            failed += [f"{t} -> not run after a timeout" for t in tests[number + 1 :]]
            break
    passed = len(tests) - len(failed)
    reason = f"{passed}/{len(tests)} tests pass" + (
        f"; first failure: {failed[0]}" if failed else ""
    )
    return {"score": passed / len(tests), "reason": reason}
