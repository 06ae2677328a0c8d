"""create_app(): the FastAPI application with its routers, error handlers and static files."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.api.routes import keys, system
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.errors import install_error_handlers
from app.core.paths import STATIC_DIR
from app.web import auth, pages
from app.web import keys as web_keys
from worker.celery_app import make_celery


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(title="RFT Studio", version="0.1.0", docs_url="/api/docs", redoc_url=None)
    app.state.settings = settings
    app.state.engine = make_engine(settings.database)
    app.state.session_factory = make_session_factory(app.state.engine)
    app.state.celery = make_celery(settings)

    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in (system.router, keys.router, auth.router, web_keys.router, pages.router):
        app.include_router(router)
    return app
