"""create_app(): the FastAPI application with its routers, error handlers and static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from app.api import openapi
from app.api.query_values import single_query_values
from app.api.routes import (
    datasets,
    deployments,
    evaluator_tests,
    evaluators,
    jobs,
    keys,
    models,
    openai_v1,
    system,
    users,
)
from app.api.routes.openai_api import ROUTERS as OPENAI_ROUTERS
from app.api.security_headers import SecurityHeaders
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.errors import install_error_handlers
from app.core.paths import STATIC_DIR
from app.core.threads import ThreadLane
from app.services.evaluator_preview import SharedPool
from app.tasks import make_client
from app.web import api_docs, auth, pages
from app.web import datasets as web_datasets
from app.web import deployments as web_deployments
from app.web import evaluations as web_evaluations
from app.web import jobs as web_jobs
from app.web import keys as web_keys
from app.web import models as web_models
from app.web import wizard as web_wizard
from app.web.templating import render_error


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.evaluator_pool.close()  # the sandboxed preview workers, if any were started
    app.state.health_engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="RFT Studio",
        version="0.1.0",
        docs_url=None,  # app.web.api_docs serves it from the vendored Swagger UI
        redoc_url=None,
        lifespan=_lifespan,
        dependencies=[Depends(single_query_values)],
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.database)
    app.state.session_factory = make_session_factory(app.state.engine)
    app.state.health_engine = make_engine(settings.database, small=True)
    app.state.health_lane = ThreadLane(2)  # /healthz never waits behind other requests
    # Services that need more than the session (dataset storage) find the settings here.
    app.state.session_factory.configure(info={"settings": settings})
    app.state.celery = make_client(settings)
    app.state.evaluator_pool = SharedPool(settings)  # started by the first evaluator preview

    install_error_handlers(app, render_page=render_error)
    app.add_middleware(SecurityHeaders)
    openapi.install(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    routers = [system.router, keys.router, datasets.router, evaluators.router, jobs.router]
    routers += [models.router, evaluator_tests.router, users.router]
    routers += [deployments.router, openai_v1.router]
    routers += OPENAI_ROUTERS  # /v1/files, /v1/fine_tuning/*
    routers += [auth.router, api_docs.router]
    routers += [web_keys.router, web_datasets.router, web_evaluations.router]
    routers += [web_wizard.router, web_jobs.router]  # /fine-tuning/new before /fine-tuning/{id}
    routers += [web_deployments.router, web_models.router]
    routers += [pages.router]
    for router in routers:
        app.include_router(router)
    return app
