"""The OpenTelemetry resource spans and metrics are sent under: the SDK's (from
``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``), with ``seqd`` as the default
service name and the daemon's version and node once it has started."""

from __future__ import annotations

from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource

SERVICE_INSTANCE_ID = "service.instance.id"


def default_resource() -> Resource:
    """``service.name`` is ``seqd`` unless ``OTEL_SERVICE_NAME`` or
    ``OTEL_RESOURCE_ATTRIBUTES`` say otherwise (``Resource.create`` reads both)."""
    found = Resource.create()
    if str(found.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        found = found.merge(Resource({SERVICE_NAME: "seqd"}))
    return found


def described(resource: Resource, version: str, node: str) -> Resource:
    """``resource`` with ``service.version`` and ``service.instance.id`` set to the
    daemon's version and node."""
    return resource.merge(Resource({SERVICE_VERSION: version, SERVICE_INSTANCE_ID: node}))
