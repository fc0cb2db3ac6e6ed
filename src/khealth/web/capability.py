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


def _oauth_uris(base: str) -> dict[str, Any]:
    """SMART's oauth-uris extension: where clients that discover through the
    CapabilityStatement (as ``fhirclient`` does) find the authorisation server."""
    root = base.removesuffix("/fhir")
    names = {"authorize": "authorize", "token": "token", "register": "register",
             "revoke": "revoke", "introspect": "introspect"}  # fmt: skip
    return {
        "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
        "extension": [{"url": k, "valueUri": f"{root}/auth/{v}"} for k, v in names.items()],
    }


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
                    "extension": [_oauth_uris(base)],
                    "cors": False,
                    "service": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/restful-security-service", "code": "SMART-on-FHIR"}]}],
                    "description": "OAuth 2.0 / SMART App Launch 2.x at /auth; bearer tokens (JWT) with SMART v2 scopes; see /fhir/.well-known/smart-configuration",
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
    """SMART App Launch 2.x discovery (``/fhir/.well-known/smart-configuration``): the
    authorisation server at ``/auth`` (khealth.auth; docs/auth.md)."""
    root = base.removesuffix("/fhir")
    return {
        "issuer": root,
        "jwks_uri": f"{root}/auth/jwks",
        "authorization_endpoint": f"{root}/auth/authorize",
        "token_endpoint": f"{root}/auth/token",
        "introspection_endpoint": f"{root}/auth/introspect",
        "revocation_endpoint": f"{root}/auth/revoke",
        "registration_endpoint": f"{root}/auth/register",
        "management_endpoint": f"{root}/api/citizen/apps",
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES384", "RS384"],
        "scopes_supported": ["openid", "fhirUser", "launch/patient", "offline_access",
                             "online_access", "patient/*.rs", "user/*.rs", "user/*.cruds",
                             "system/*.rs", "system/*.cruds"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": ["launch-standalone", "client-public", "client-confidential-asymmetric",
                         "context-standalone-patient", "context-banner", "sso-openid-connect",
                         "permission-offline", "permission-online", "permission-patient",
                         "permission-user", "permission-v1", "permission-v2"],
    }  # fmt: skip
