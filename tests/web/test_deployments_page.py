"""The Deployments page: the Deploy form route (what the job page's buttons post), the list,
stopping, and the playground's answer when a deployment cannot answer yet."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.models import Deployment, User
from tests.api.test_deployments import Account, make_checkpoint
from tests.web.test_pages import sign_in


def test_deploy_a_checkpoint_from_a_form_then_stop_it(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    csrf = sign_in(client, session_factory, "alice")
    with session_factory() as session:
        alice = session.scalars(select(User).where(User.name == "alice")).one()
    checkpoint_id = make_checkpoint(session_factory, Account(alice, ""), step=30)

    refused = client.post("/deployments", data={"checkpoint_id": str(checkpoint_id)})
    assert refused.status_code == 403  # no CSRF field: refused

    response = client.post(
        "/deployments", data={"checkpoint_id": str(checkpoint_id), "csrf_token": csrf}
    )
    assert response.status_code == 200 and response.url.path == "/deployments"
    assert re.search(r"<code>ft-\d+-step30</code>", response.text)
    assert 'data-testid="deployment-state">pending' in response.text
    assert 'hx-trigger="every 2s"' in response.text  # live while it loads
    assert "http://127.0.0.1:8000/v1" in response.text  # the snippets name this server

    with session_factory() as session:
        deployment = session.scalars(select(Deployment)).one()
    stopped = client.post(
        f"/deployments/{deployment.id}/stop", headers={"X-CSRF-Token": csrf, "HX-Request": "true"}
    )
    assert 'data-testid="deployment-state">stopped' in stopped.text
    assert 'hx-trigger="every 2s"' not in stopped.text


def test_form_errors_name_the_field(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    csrf = sign_in(client, session_factory, "alice")
    response = client.post(
        "/deployments",
        data={"base_model": "nope", "csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert "base_model" in response.text and "nope" in response.text


def test_playground_says_why_a_deployment_cannot_answer(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    csrf = sign_in(client, session_factory, "alice")
    with session_factory() as session:
        alice = session.scalars(select(User).where(User.name == "alice")).one()
        row = Deployment(owner_id=alice.id, name="warming", base_model="b", adapter_path="x")
        session.add(row)
        session.commit()
        deployment_id = row.id
    response = client.post(
        "/deployments/playground",
        data={"deployment_id": str(deployment_id), "prompt": "3+4="},
        headers={"X-CSRF-Token": csrf, "HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "is pending" in response.text
    assert "Deploy the base model <code>b</code>" in response.text
