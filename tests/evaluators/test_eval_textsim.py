"""OpenAI's text_similarity numbers: fuzzy_match as the graders guide, ROUGE as rouge-score, BLEU,
GLEU and METEOR as NLTK's own functions called the way Azure AI Evaluation's OpenAI-grader
evaluators call them (OpenAI publishes no numbers for these three)."""

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


@pytest.mark.parametrize(("candidate", "reference"), PAIRS)
def test_bleu_gleu_meteor_are_nltks_numbers(candidate: str, reference: str) -> None:
    from nltk.stem.porter import PorterStemmer
    from nltk.tokenize import word_tokenize
    from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu
    from nltk.translate.gleu_score import sentence_gleu
    from nltk.translate.meteor_score import meteor_score

    # One sentence each, so word_tokenize needs no Punkt data to split sentences.
    cand = word_tokenize(candidate, preserve_line=True)
    ref = word_tokenize(reference, preserve_line=True)
    expected_bleu = sentence_bleu([ref], cand, smoothing_function=SmoothingFunction().method4)
    assert textsim.bleu(candidate, reference) == pytest.approx(expected_bleu)
    assert textsim.gleu(candidate, reference) == pytest.approx(sentence_gleu([ref], cand))
    no_synonyms = textsim._NoSynonyms()  # this machine has no WordNet data
    expected_meteor = meteor_score(
        [ref], cand, alpha=0.9, beta=3.0, gamma=0.5, stemmer=PorterStemmer(), wordnet=no_synonyms
    )
    assert textsim.meteor(candidate, reference) == pytest.approx(expected_meteor)


def test_meteor_matches_stems_and_bleu_is_case_sensitive() -> None:
    # "cats" ~ "cat" through the Porter stem: METEOR counts it, a word-for-word metric does not.
    stemmed = textsim.meteor("the cats sat", "the cat sat")
    assert stemmed > textsim.meteor("the dog sat", "the cat sat")
    assert textsim.bleu("The Cat sat on the mat", "the cat sat on the mat") < 1.0
    assert textsim.bleu("the cat sat on the mat", "the cat sat on the mat") == pytest.approx(1.0)


def test_sentences_split_as_word_tokenize_does() -> None:
    assert textsim.nltk_tokens("It rained. We stayed in!") == [
        "It", "rained", ".", "We", "stayed", "in", "!"
    ]  # fmt: skip


def test_nltk_metrics_run_in_the_sandbox(nltk_pool: EvaluatorPool) -> None:
    candidate, reference = PAIRS[1]
    row = {"messages": [{"role": "user", "content": "?"}], "reference_answer": reference}
    for metric in textsim.NLTK_METRICS:
        spec = {
            "type": "text_similarity",
            "name": metric,
            "input": "{{sample.output_text}}",
            "reference": "{{item.reference_answer}}",
            "evaluation_metric": metric,
        }
        [result] = nltk_pool.score(spec, [Sample(row, candidate)])
        assert result.error is None, result
        expected = textsim.METRICS[metric](candidate, reference)
        assert result.score == pytest.approx(expected), metric


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
