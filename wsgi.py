"""gunicorn's and the flask CLI's entry point: `gunicorn wsgi:app`. Production unless OPSIQ_ENV says
otherwise (`make run` and the tests say development)."""
from app import create_app

app = create_app(default_env="production")
