"""JSON logs with request ids. Privacy invariant: log calls pass only ids, routes,
statuses and timings: never resource content, search values, names or identifiers."""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(level: str | None = None) -> None:
    from khealth.core.config import get_settings

    level_name = (level or get_settings().log_level).upper()
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level_name)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level_name)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
