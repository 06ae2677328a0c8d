"""The OpenAI-compatible fine-tuning routers, registered together by create_app()."""

from app.api.routes import openai_files, openai_fine_tuning, openai_graders

ROUTERS = [openai_files.router, openai_fine_tuning.router, openai_graders.router]
