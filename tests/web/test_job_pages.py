"""The job pages over HTTP, on job records built through the services (no training): first
paint of stored state, one best checkpoint, filters, error groups, job list and compare."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.core.db import transaction
from app.models import Job
from app.services import job_records, job_views, users
from tests.conftest import Account
from tests.job_records_support import finished_job, make_job, record_steps
from tests.web.test_pages import sign_in


@pytest.fixture
def signed_in(client: TestClient, session_factory: sessionmaker[Session]) -> str:
    return sign_in(client, session_factory, "alice")


def alice_job(factory: sessionmaker[Session], total: int = 30, name: str = "done") -> int:
    with transaction(factory) as session:
        return finished_job(session, users.get_or_create(session, "alice"), total, name).id


def chart_data(html: str) -> dict:  # type: ignore[type-arg]
    match = re.search(r'<script type="application/json" id="job-chart-data">(.*?)</script>', html)
    assert match
    return json.loads(match.group(1))  # type: ignore[no-any-return]


class TestJobPage:
    def test_finished_job_shows_its_final_state_at_once(
        self, client: TestClient, signed_in: str, session_factory: sessionmaker[Session]
    ) -> None:
        job_id = alice_job(session_factory)
        html = client.get(f"/fine-tuning/{job_id}").text
        assert 'data-testid="job-status">completed<' in html
        assert "running" not in re.sub(r"<script.*?</script>", "", html, flags=re.S).lower()
        assert 'data-testid="job-step">30/30<' in html
        data = chart_data(html)
        assert data["train"]["steps"] == list(range(1, 31))
        assert len(data["eval"]["steps"]) == 7  # step 0, then every 5
        for key in ("reward", "kl", "entropy", "completions/clipped_ratio", "step_time"):
            assert len([v for v in data["train"]["series"][key] if v is not None]) == 30
        kinds = {m["kind"] for m in data["markers"]}
        assert kinds == {"checkpoint"}
        # the live stream starts after everything on the page
        after = int(re.search(r'data-after="(\d+)"', html).group(1))  # type: ignore[union-attr]
        with session_factory() as session:
            assert after == job_views.last_event_id(session, job_id)

    def test_exactly_one_checkpoint_is_best_and_it_is_the_best_validation(
        self, client: TestClient, signed_in: str, session_factory: sessionmaker[Session]
    ) -> None:
        job_id = alice_job(session_factory)
        html = client.get(f"/fine-tuning/{job_id}").text
        assert html.count('data-testid="best-checkpoint"') == 1
        best_row = re.search(r'class="best-row">\s*<td>(\d+)</td>', html)
        assert best_row and best_row.group(1) == "20"  # validation peaks at 60% of 30 steps
        assert 'name="checkpoint_id"' in html and f'value="{signed_in}"' in html
        assert 'data-testid="summary-best">0.767' in html
        assert 'data-testid="summary-gain">+0.' in html
        assert f'href="/fine-tuning/new?from={job_id}"' in html

    def test_downsamples_a_long_job(self) -> None:
        rows = [(s, {"reward": float(s), "completions/max_length": float(s)}) for s in range(3000)]
        cols = job_views.columns(rows, max_points=1000)
        assert len(cols["steps"]) == 1000 and cols["bucket"] == 3
        assert cols["steps"][0] == 2 and cols["series"]["reward"][0] == 1.0
        assert cols["series"]["completions/max_length"][0] == 2.0

    def test_long_job_is_bucketed_in_the_database(
        self, session_factory: sessionmaker[Session]
    ) -> None:
        with transaction(session_factory) as session:
            job = finished_job(session, users.get_or_create(session, "alice"), 30)
            exact = job_views.metric_rows(session, job.id, "train")
            cols = job_views.series(session, job.id, "train", max_points=10)
        assert cols["bucket"] == 3
        assert cols["steps"] == [2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 30]  # buckets step // 3
        by_step = dict(exact)
        first = [by_step[1]["reward"], by_step[2]["reward"]]
        assert cols["series"]["reward"][0] == pytest.approx(sum(first) / 2)
        grads = [by_step[s]["grad_norm"] for s in (3, 4, 5)]
        assert cols["series"]["grad_norm"][1] == pytest.approx(sum(grads) / 3)
        assert set(cols["series"]) == set(exact[-1][1])

    def test_running_job_marks_a_resume(
        self, client: TestClient, signed_in: str, session_factory: sessionmaker[Session]
    ) -> None:
        with transaction(session_factory) as session:
            job = make_job(session, users.get_or_create(session, "alice"), "resumed")
            record_steps(session, job, range(1, 11), 40)
            job.status = "queued"
            job_records.claim(session, job.id, "second-worker")
            job_records.rewind_to(session, job, 10)
            resumed = [("resumed", {"step": 10})]
            job_records.save_batch(
                session,
                job.id,
                step=10,
                total_steps=40,
                metrics=[],
                completions=[],
                logs=[],
                events=resumed,
            )
            record_steps(session, job, range(11, 14), 40)
            job_id = job.id
        html = client.get(f"/fine-tuning/{job_id}").text
        assert 'data-testid="job-status">running<' in html
        markers = chart_data(html)["markers"]
        assert {"step": 10, "kind": "resumed", "label": "resumed"} in markers
        assert "Cancel" in html


class TestCompletionsAndLogs:
    def test_filters_by_step_reward_invalid_and_text(
        self, client: TestClient, signed_in: str, session_factory: sessionmaker[Session]
    ) -> None:
        job_id = alice_job(session_factory)
        base = f"/fine-tuning/{job_id}/completions"
        everything = client.get(base, params={"any_step": "1"}).text
        assert 'data-count="240"' in everything
        at_step = client.get(base, params={"step": "7"}).text
        assert set(re.findall(r'data-step="(\d+)"', at_step)) == {"7"}
        high = client.get(base, params={"any_step": "1", "reward_min": "0.5"}).text
        rewards = [float(r) for r in re.findall(r'data-reward="([\d.]+)"', high)]
        assert rewards and min(rewards) >= 0.5
        invalid = client.get(base, params={"any_step": "1", "invalid": "1"}).text
        assert 'data-count="30"' in invalid
        by_format = {"any_step": "1", "evaluator": "format", "invalid": "1"}
        assert 'data-count="30"' in client.get(base, params=by_format).text
        by_exact = {"any_step": "1", "evaluator": "exact", "invalid": "1"}
        assert 'data-count="0"' in client.get(base, params=by_exact).text
        text = client.get(base, params={"any_step": "1", "q": "step 12 answer"}).text
        assert 'data-count="8"' in text
        bad = client.get(base, params={"reward_min": "lots"}, headers={"HX-Request": "true"})
        assert bad.status_code == 422 and "reward_min" in bad.text

    def test_group_shows_advantages_and_a_second_step(
        self, client: TestClient, signed_in: str, session_factory: sessionmaker[Session]
    ) -> None:
        job_id = alice_job(session_factory)
        prompt = "What is 0 + 1?"
        html = client.get(
            f"/fine-tuning/{job_id}/group", params={"step": 1, "other": 21, "prompt": prompt}
        ).text
        assert re.findall(r'data-testid="group-column" data-step="(\d+)"', html) == ["1", "21"]
        assert "advantage</b> +" in html and "advantage</b> -" in html

    def test_logs_group_errors_with_their_first_traceback(
        self, client: TestClient, signed_in: str, session_factory: sessionmaker[Session]
    ) -> None:
        job_id = alice_job(session_factory)
        html = client.get(f"/fine-tuning/{job_id}/logs", params={"source": "format"}).text
        assert re.search(r'<td class="num">10</td><td>format</td>', html)
        assert "ValueError: no number" in html and "line 3\nValueError" in html
        ranged = client.get(
            f"/fine-tuning/{job_id}/logs", params={"level": "info", "step_min": 5, "step_max": 9}
        ).text
        assert 'data-count="5"' in ranged


class TestApi:
    def test_completions_filters_and_summary(
        self, client: TestClient, alice: Account, session_factory: sessionmaker[Session]
    ) -> None:
        with transaction(session_factory) as session:
            job_id = finished_job(session, alice.user).id
        url = f"/api/v1/jobs/{job_id}/completions"
        page = client.get(url, params={"step_min": 5, "step_max": 6}, headers=alice.headers)
        assert page.json()["count"] == 16
        assert {c["step"] for c in page.json()["data"]} == {5, 6}
        ranged = {"reward_min": 0.2, "reward_max": 0.4, "limit": 500}
        data = client.get(url, params=ranged, headers=alice.headers).json()["data"]
        assert data and all(0.2 <= c["reward"] <= 0.4 for c in data)
        too_many = client.get(url, params={"limit": 501}, headers=alice.headers)
        assert too_many.status_code == 422
        summary = client.get(f"/api/v1/jobs/{job_id}/summary", headers=alice.headers).json()
        assert summary["eval_best"] == {"step": 20, "value": 0.7667}
        assert summary["eval_start"]["step"] == 0 and summary["best_checkpoint_step"] == 20
        assert summary["reward_gain"] == pytest.approx(0.7667 - 0.5)
        logs = client.get(
            f"/api/v1/jobs/{job_id}/logs", params={"source": "format"}, headers=alice.headers
        )
        assert logs.json()["count"] == 10


class TestListAndCompare:
    def test_list_shows_rewards_and_sorts(
        self, client: TestClient, signed_in: str, session_factory: sessionmaker[Session]
    ) -> None:
        low = alice_job(session_factory, total=10, name="short")
        high = alice_job(session_factory, total=30, name="long")
        html = client.get("/fine-tuning", params={"sort": "best_eval", "desc": "true"}).text
        order = re.findall(r'data-testid="job-row" data-job-id="(\d+)"', html)
        assert order == [str(high), str(low)]
        ascending = client.get("/fine-tuning", params={"sort": "reward", "desc": "false"}).text
        shown = [float(r) for r in re.findall(r'data-testid="job-reward">([\d.]+)<', ascending)]
        assert len(shown) == 2 and shown == sorted(shown)

    def test_compare_shows_only_differences(
        self, client: TestClient, signed_in: str, session_factory: sessionmaker[Session]
    ) -> None:
        with transaction(session_factory) as session:
            alice = users.get_or_create(session, "alice")
            first = finished_job(session, alice, 10, "a")
            second = finished_job(session, alice, 10, "b")
            second.spec = {**second.spec, "training": {**second.spec["training"], "lora_rank": 16}}
            ids = f"{first.id},{second.id}"
        html = client.get("/fine-tuning/compare", params={"ids": ids}).text
        assert re.findall(r'data-testid="diff-row" data-key="([^"]+)"', html) == [
            "training.lora_rank"
        ]
        assert html.count('data-testid="compare-run"') == 2
        too_many = client.get("/fine-tuning/compare", params={"ids": "1,2,3,4,5"})
        assert too_many.status_code == 422 and "at most 4" in too_many.text

    def test_other_users_job_is_not_found(
        self, client: TestClient, signed_in: str, session_factory: sessionmaker[Session]
    ) -> None:
        with transaction(session_factory) as session:
            bob_job = finished_job(session, users.get_or_create(session, "bob"), 5)
            assert isinstance(bob_job, Job)
            job_id = bob_job.id
        for path in ("", "/completions", "/logs", "/checkpoints", "/summary"):
            assert client.get(f"/fine-tuning/{job_id}{path}").status_code == 404
