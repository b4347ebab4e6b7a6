"""Services for the beacon: Pyramid's component registry against ``pyramid_services``.

    .venv/bin/pip install pyramid_services==2.2    # not a dependency of the project: for this only
    .venv/bin/python -m bench.services

Two minimal Pyramid applications, each with four services and one view that looks up all four,
as the beacon does (site directory, limiter, pipeline, store): one registers them with
``registry.registerUtility`` and looks them up with ``registry.getUtility`` (what
:mod:`tracking.interfaces` does), the other with ``pyramid_services`` (``register_service``,
``request.find_service``, which builds a container for each request). A third has the view and
no lookup at all. Each figure is the fastest of 200 batches of 200 WSGI requests, per request.
"""

import io
import timeit

from pyramid.config import Configurator
from pyramid.response import Response
from zope.interface import Interface


class ISiteDirectory(Interface):
    pass


class IBeaconLimiter(Interface):
    pass


class IHitPipeline(Interface):
    pass


class IHitStore(Interface):
    pass


SERVICES = (ISiteDirectory, IBeaconLimiter, IHitPipeline, IHitStore)
RESPONSE = Response(status=204)


def registry_app():
    def view(request):
        registry = request.registry
        for iface in SERVICES:
            registry.getUtility(iface)
        return RESPONSE

    with Configurator() as config:
        for iface in SERVICES:
            config.registry.registerUtility(object(), iface)
        config.add_route("hit", "/hit")
        config.add_view(view, route_name="hit")
    return config.make_wsgi_app()


def services_app():
    def view(request):
        for iface in SERVICES:
            request.find_service(iface)
        return RESPONSE

    with Configurator() as config:
        config.include("pyramid_services")
        for iface in SERVICES:
            config.register_service(object(), iface)
        config.add_route("hit", "/hit")
        config.add_view(view, route_name="hit")
    return config.make_wsgi_app()


def bare_app():
    with Configurator() as config:
        config.add_route("hit", "/hit")
        config.add_view(lambda request: RESPONSE, route_name="hit")
    return config.make_wsgi_app()


def per_request(app) -> float:
    environ = {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/hit", "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
    }

    def start_response(status, headers, exc_info=None):
        assert status.startswith("204")

    def request():
        app(dict(environ), start_response)

    for _ in range(100):
        request()
    return min(timeit.repeat(request, number=200, repeat=200)) / 200


def main() -> None:
    bare = per_request(bare_app())
    registry = per_request(registry_app())
    services = per_request(services_app())
    print(f"a request with no lookup:                       {bare * 1e6:6.1f} µs")
    print(f"four registry.getUtility lookups:               {registry * 1e6:6.1f} µs  (+{(registry - bare) * 1e6:.1f} µs)")
    print(f"four request.find_service (pyramid_services):   {services * 1e6:6.1f} µs  (+{(services - bare) * 1e6:.1f} µs)")


if __name__ == "__main__":
    main()
