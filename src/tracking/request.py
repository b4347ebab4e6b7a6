"""The application's request class: the request properties on one class, built once.

Pyramid adds the properties of ``add_request_method(..., property=True)`` (``dbsession``,
``tm``, ``csp_nonce``) to each request by deriving a new class for that one request, a large
share of the beacon's time (BENCHMARKS.md, "The request class"). The same descriptors on one
subclass of the request factory behave the same (``reify`` caches in the instance) and cost
nothing per request. Included last, once every other include has added its properties.

It rewrites Pyramid's ``IRequestExtensions().descriptors``: ``tests/functional/test_request_class.py``
checks that the class has every extension and that Pyramid still reads that attribute.
"""

from pyramid.interfaces import IRequestExtensions, IRequestFactory
from pyramid.request import Request


def includeme(config) -> None:
    config.commit()  # every property added so far is registered
    registry = config.registry
    extensions = registry.queryUtility(IRequestExtensions)
    if extensions is None or not extensions.descriptors:
        return
    base = registry.queryUtility(IRequestFactory, default=Request)
    request_class = type(base.__name__, (base,), {"__module__": base.__module__, **extensions.descriptors})
    extensions.descriptors = {}
    config.set_request_factory(request_class)
    config.commit()
