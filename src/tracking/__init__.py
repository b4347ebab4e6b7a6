"""Tracking: self-hosted, privacy-friendly web analytics."""

from pyramid.config import Configurator


def main(global_config, **settings):
    """The WSGI application (``paste.app_factory``)."""
    with Configurator(settings=settings) as config:
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
