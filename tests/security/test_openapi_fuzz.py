"""Schemathesis against the OpenAPI of the JSON APIs (/api/...), in-process over ASGI, with a
valid operator token and with a citizen's: no input makes the server answer 5xx."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from khealth.store.memory import MemoryStore
from tests import personas
from tests.security.city import seed
from tests.support import Api

pytestmark = pytest.mark.security

API = Api(MemoryStore(), Path(tempfile.mkdtemp(prefix="khealth-fuzz-")))
seed(API)
HEADERS = {"operator": API.headers(**personas.olivia), "citizen": API.headers(**personas.alice)}
schema = schemathesis.openapi.from_asgi("/openapi.json", API.app).include(path_regex="^/api/")


@schema.parametrize()
@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_json_api_input_makes_the_server_fail(case: Any) -> None:
    for headers in HEADERS.values():
        response = case.call(headers={"Authorization": headers["Authorization"]})
        assert response.status_code < 500, (case.method, case.path, response.status_code)
