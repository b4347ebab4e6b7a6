"""The application's request class (``tracking.request``) carries every request extension, and
what it rewrites in Pyramid is still what Pyramid reads: if an upgrade of Pyramid changes either,
these fail."""

import pytest
from pyramid.config import Configurator
from pyramid.decorator import reify
from pyramid.interfaces import IRequestExtensions, IRequestFactory
from pyramid.request import Request, apply_request_extensions
from pyramid.scripting import prepare

import tracking.request
from tracking import make_app


@pytest.fixture
def extensions_pyramid_would_add(app_settings, db_service, monkeypatch):
    """The request properties registered by the application's includes, as Pyramid keeps them
    when ``tracking.request`` does not move them (its ``includeme`` left out)."""
    monkeypatch.setattr(tracking.request, "includeme", lambda config: None)
    plain = make_app(app_settings, database=db_service)
    return dict(plain.registry.getUtility(IRequestExtensions).descriptors)


def test_the_request_class_has_every_registered_extension(app, extensions_pyramid_would_add):
    assert {"dbsession", "tm", "csp_nonce"} <= set(extensions_pyramid_would_add)
    request_class = app.registry.getUtility(IRequestFactory)
    assert issubclass(request_class, Request)
    for name, descriptor in extensions_pyramid_would_add.items():
        assert type(vars(request_class)[name]) is type(descriptor) in (reify, property)
    # None is left for Pyramid to add to each request by deriving a class for it.
    assert app.registry.getUtility(IRequestExtensions).descriptors == {}


def test_a_request_of_the_application_is_of_that_class_and_has_the_extensions(app):
    env = prepare(registry=app.registry)
    try:
        request = env["request"]
        assert type(request) is app.registry.getUtility(IRequestFactory)  # not a class made for it
        assert request.csp_nonce == request.csp_nonce  # reified: made once per request
        assert request.tm is request.tm
    finally:
        env["closer"]()


def test_pyramid_still_adds_request_properties_from_the_attribute_rewritten():
    """``IRequestExtensions().descriptors`` is where Pyramid keeps the properties of
    ``add_request_method`` and what it applies to each request, by deriving a class (the cost
    ``tracking.request`` saves the beacon: BENCHMARKS.md, "The request class")."""
    config = Configurator()
    config.add_request_method(lambda request: 42, "answer", reify=True)
    config.commit()
    extensions = config.registry.getUtility(IRequestExtensions)
    assert set(extensions.descriptors) == {"answer"} and extensions.methods == {}
    request = Request.blank("/")
    apply_request_extensions(request, extensions=extensions)
    assert type(request) is not Request and request.answer == 42
    extensions.descriptors = {}  # what tracking.request does, once the class has them
    request = Request.blank("/")
    apply_request_extensions(request, extensions=extensions)
    assert type(request) is Request
