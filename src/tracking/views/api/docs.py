"""The API's contract (``/api/v1/openapi.json``) and its reference page (``/api/v1/reference``),
rendered here from the same document: no script, no CDN, the pages' Content-Security-Policy."""

from __future__ import annotations

import json

from pyramid.response import Response
from pyramid.security import NO_PERMISSION_REQUIRED
from pyramid.view import view_config

from ...api_resources import ApiV1
from ...schemas.openapi import document

METHODS = ("get", "post", "patch", "delete")


@view_config(context=ApiV1, name="openapi.json", request_method="GET", permission=NO_PERMISSION_REQUIRED)
def openapi(context, request):
    response = Response(body=json.dumps(document(), indent=1).encode(), content_type="application/json", charset=None)
    response.headers.update({"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"})
    return response


def _schema_text(schema: dict, components: dict) -> str:
    """A short description of a schema: its type, its choices and bounds."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[1]
    kind = schema.get("type", "")
    text = " or ".join(kind) if isinstance(kind, list) else kind
    if "enum" in schema:
        text += ": " + ", ".join(str(value) for value in schema["enum"])
    bounds = [f"{name} {schema[key]}" for key, name in (("minimum", "≥"), ("maximum", "≤"), ("maxLength", "length ≤"))
              if key in schema]
    if bounds:
        text += " (" + ", ".join(bounds) + ")"
    if "default" in schema:
        text += f"; default {schema['default']}"
    return text


@view_config(context=ApiV1, name="reference", request_method="GET", permission=NO_PERMISSION_REQUIRED,
             renderer="tracking:templates/api/reference.jinja2")
def reference(context, request):
    doc = document()
    components = doc["components"]["schemas"]
    operations = []
    for path, item in doc["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method not in item:
                continue
            operation = item[method]
            parameters = [(p["name"], p["in"], _schema_text(p["schema"], components), p.get("description", ""))
                          for p in (*shared, *operation.get("parameters", []))]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            responses = [(code, answer.get("description") or answer.get("$ref", "").rsplit("/", 1)[1])
                         for code, answer in operation["responses"].items()]
            operations.append({
                "id": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                "method": method.upper(), "path": "/api/v1" + path, "summary": operation["summary"],
                "description": operation.get("description", ""), "parameters": parameters,
                "body": _schema_text(body, components) if body else None, "responses": responses,
            })
    schemas = [
        (name, [(field, _schema_text(spec, components), field in schema.get("required", []))
                for field, spec in schema.get("properties", {}).items()])
        for name, schema in components.items()
    ]
    return {"info": doc["info"], "operations": operations, "schemas": schemas,
            "errors": {code: answer["description"] for code, answer in doc["components"]["responses"].items()}}
