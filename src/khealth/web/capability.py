"""/fhir/metadata: a CapabilityStatement listing exactly what this server supports."""

from __future__ import annotations

import functools
from typing import Any

from khealth import __version__
from khealth.fhir.definitions import FHIR_VERSION, SUPPORTED_TYPES
from khealth.fhir.searchparams import search_params

UNSUPPORTED_PARAMS = frozenset({"_text", "_content", "_list", "_query", "_filter", "_has"})
INTERACTIONS = ("read", "vread", "update", "patch", "delete", "history-instance",
                "history-type", "create", "search-type")  # fmt: skip


def _resource(resource_type: str) -> dict[str, Any]:
    params = [
        {"name": code, "definition": sp.url, "type": sp.type}
        for code, sp in sorted(search_params(resource_type).items())
        if code not in UNSUPPORTED_PARAMS and sp.type != "special"
    ]
    entry: dict[str, Any] = {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": code} for code in INTERACTIONS],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": True,
        "conditionalUpdate": True,
        "conditionalDelete": "not-supported",
        "referencePolicy": ["literal", "logical"],
        "searchInclude": [
            "*",
            *sorted(f"{resource_type}:{p['name']}" for p in params if p["type"] == "reference"),
        ],
        "searchRevInclude": ["*"],
        "searchParam": params,
    }
    operations = [
        {
            "name": "validate",
            "definition": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
        }
    ]
    if resource_type == "Patient":
        operations += [
            {
                "name": "everything",
                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
            },
            {
                "name": "export",
                "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
            },
        ]
    if resource_type == "Group":
        operations.append(
            {
                "name": "export",
                "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
            }
        )
    entry["operation"] = operations
    return entry


@functools.cache
def capability_statement(base: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-29",
        "kind": "instance",
        "software": {"name": "khealth", "version": __version__},
        "implementation": {"description": "khealth city clinical data store", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}]}],
                    "description": "Bearer tokens (JWT) with SMART v2 scopes; see /fhir/.well-known/smart-configuration",
                },
                "resource": [_resource(t) for t in SUPPORTED_TYPES],
                "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}, {"code": "search-system"}],
                "searchParam": [
                    {"name": "_id", "type": "token"}, {"name": "_lastUpdated", "type": "date"},
                    {"name": "_tag", "type": "token"}, {"name": "_profile", "type": "uri"},
                    {"name": "_security", "type": "token"}, {"name": "_type", "type": "token"},
                ],
                "operation": [
                    {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}
                ],
            }
        ],
    }  # fmt: skip


def smart_configuration(base: str) -> dict[str, Any]:
    """SMART discovery. Until the authorisation server lands, tokens come from
    ``khealth token issue``; the endpoints below are where it will live."""
    root = base.removesuffix("/fhir")
    return {
        "issuer": root,
        "authorization_endpoint": f"{root}/auth/authorize",
        "token_endpoint": f"{root}/auth/token",
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "scopes_supported": ["openid", "fhirUser", "launch/patient", "offline_access",
                             "patient/*.rs", "user/*.rs", "system/*.cruds"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": ["launch-standalone", "client-public", "client-confidential-asymmetric",
                         "context-standalone-patient", "permission-v2", "permission-patient"],
    }  # fmt: skip
