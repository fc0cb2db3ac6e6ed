"""ASGI entry point for uvicorn: ``khealth.web.main:app``."""

from __future__ import annotations

from khealth.web.app import create_app

app = create_app()
