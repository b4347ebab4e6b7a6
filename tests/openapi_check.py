"""Every answer of the API in the test suite, held to its OpenAPI document.

:class:`support.TestApp` calls :func:`check` for each response under ``/api/v1/``: its status
must be one the document lists for that path and method, and its JSON body must match that
answer's schema (JSON Schema 2020-12, as OpenAPI 3.1 says)."""

import re

from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tracking.schemas.openapi import document

PREFIX = "/api/v1"
DOC = document()
REGISTRY = Registry().with_resource("urn:tracking-api", DRAFT202012.create_resource(DOC))
TEMPLATES = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "/?$"), path) for path in DOC["paths"]]
#: Not API answers: the contract itself and its page.
DOCUMENTS = {"/openapi.json", "/reference"}
checked = {"count": 0}


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        target = DOC
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _validate(schema: dict, body) -> None:
    validator = Draft202012Validator({"$ref": "urn:tracking-api" + schema["$ref"]} if "$ref" in schema else schema,
                                     registry=REGISTRY)
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
    assert not errors, f"the answer does not match its schema: {errors[0].message} at {list(errors[0].path)}"


def error_schema() -> dict:
    return {"$ref": "#/components/schemas/Error"}


def check(method: str, path: str, response) -> None:
    """Hold ``response`` (a WebTest or requests response) to the document."""
    if not path.startswith(PREFIX) or path[len(PREFIX):] in DOCUMENTS:
        return
    status = str(getattr(response, "status_int", None) or response.status_code)
    checked["count"] += 1
    relative = path[len(PREFIX):]
    template = next((path for pattern, path in TEMPLATES if pattern.match(relative)), None)
    operation = DOC["paths"][template].get(method.lower()) if template else None
    if operation is None:
        # No such endpoint (404) or no such method (405): an error of the documented form.
        assert status in ("401", "404", "405", "429"), f"{method} {path}: {status} for no documented operation"
        schema = error_schema()
    else:
        answers = operation["responses"]
        assert status in answers, f"{method} {path}: {status} is not a documented answer ({', '.join(answers)})"
        answer = _resolve(answers[status])
        content = answer.get("content")
        if content is None:
            assert not response.body if hasattr(response, "body") else not response.content
            return
        schema = content["application/json"]["schema"]
    content_type = response.headers.get("Content-Type", "")
    assert content_type.split(";")[0] == "application/json", f"{method} {path}: {content_type}"
    body = response.json if hasattr(response, "json") and not callable(response.json) else response.json()
    _validate(schema, body)
