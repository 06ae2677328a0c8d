"""OpenAI's text_similarity numbers: fuzzy_match as the graders guide, ROUGE as rouge-score."""

from __future__ import annotations

import pytest
from rouge_score import rouge_scorer

from app.evaluators import EvaluatorPool, Sample, textsim

PAIRS = [
    ("fuzzy wuzzy was a bear", "fuzzy wuzzy had no hair"),
    ("The cat sat on the mat.", "the cat is on the mat"),
    ("Paris is the capital of France", "The capital of France is Paris!"),
    ("completely different", "nothing alike here"),
    ("État-major, 42 ans", "etat major 42 ans"),
]


def test_fuzzy_match_gives_the_guides_number() -> None:
    # The graders guide grades "fuzzy wuzzy was a bear" against "fuzzy wuzzy had no hair".
    assert round(textsim.fuzzy_match(*PAIRS[0]), 3) == 0.756


@pytest.mark.parametrize(("candidate", "reference"), PAIRS)
def test_rouge_matches_rouge_score(candidate: str, reference: str) -> None:
    kinds = [f"rouge{n}" for n in range(1, 6)] + ["rougeL"]
    scores = rouge_scorer.RougeScorer(kinds).score(reference, candidate)
    for n in range(1, 6):
        ours = textsim.rouge_n(candidate, reference, n)
        assert ours == pytest.approx(scores[f"rouge{n}"].fmeasure)
    assert textsim.rouge_l(candidate, reference) == pytest.approx(scores["rougeL"].fmeasure)


def test_text_similarity_spec_in_the_sandbox(pool: EvaluatorPool) -> None:
    spec = {
        "type": "text_similarity",
        "name": "fuzzy",
        "input": "{{sample.output_text}}",
        "reference": "{{item.reference_answer}}",
        "evaluation_metric": "fuzzy_match",
    }
    row = {"messages": [{"role": "user", "content": "?"}], "reference_answer": PAIRS[0][1]}
    [result] = pool.score(spec, [Sample(row, PAIRS[0][0])])
    assert result.score is not None and round(result.score, 3) == 0.756
