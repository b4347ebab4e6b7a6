"""Tracking: self-hosted, privacy-friendly web analytics."""

from collections.abc import Mapping

from pyramid.config import Configurator
from pyramid.router import Router

from .interfaces import IDatabase, ISettings


def main(global_config, **settings) -> Router:
    """The WSGI application (``paste.app_factory``). Building it starts nothing: the server's
    entry point does (:mod:`tracking.server`)."""
    return make_app(settings)


def make_app(settings: Mapping, *, parsed=None, database=None) -> Router:
    """The application of the ini values ``settings``. ``parsed``: the
    :class:`~tracking.settings.Settings` to use instead of parsing ``settings``; ``database``:
    the :class:`~tracking.models.Database` to use instead of the settings' (tests bind its
    sessions to their own transaction)."""
    with Configurator(settings=dict(settings)) as config:
        if parsed is not None:
            config.registry.registerUtility(parsed, ISettings)
        if database is not None:
            config.registry.registerUtility(database, IDatabase)
        config.include(".settings")
        config.include(".models")
        config.include(".security")
        config.include(".resources")
        config.include(".ingest")
        config.include(".templating")
        config.include(".headers")
        config.include(".requestlog")
        config.include(".views")
        # The console scripts (tracking-admin, tracking-demo and its generator) hold no views: a
        # server never imports them.
        config.scan(ignore=".scripts")
        config.include(".request")
    return config.make_wsgi_app()
