"""Every ORM model, imported here so Alembic and the app see one complete metadata."""

from app.models.api_key import ApiKey
from app.models.auth_session import BrowserSession, LoginToken
from app.models.dataset import Dataset
from app.models.deployment import Deployment
from app.models.evaluator import Evaluator, EvaluatorVersion
from app.models.evaluator_test_case import EvaluatorTestCase
from app.models.job import Checkpoint, Job, JobCompletion, JobEvent, JobLog, JobMetric
from app.models.user import User

__all__ = [
    "ApiKey",
    "BrowserSession",
    "Checkpoint",
    "Dataset",
    "Deployment",
    "Evaluator",
    "EvaluatorTestCase",
    "EvaluatorVersion",
    "Job",
    "JobCompletion",
    "JobEvent",
    "JobLog",
    "JobMetric",
    "LoginToken",
    "User",
]
