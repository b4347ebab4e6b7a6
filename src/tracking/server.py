"""``[server:main] use = egg:tracking#waitress``: waitress, addressed from the command line.

``pserve development.ini http_port=8000 http_host=0.0.0.0`` picks the address (defaults:
``default_host``/``default_port`` in the ini), and ``TRACKING_TRUSTED_PROXY`` names the reverse
proxy whose ``X-Forwarded-*`` headers waitress may believe. Every other key of the section is
passed to waitress unchanged.
"""

import os

import waitress


def serve(app, global_conf, **settings):
    host = global_conf.get("http_host") or settings.pop("default_host", "localhost")
    port = global_conf.get("http_port") or settings.pop("default_port", "6543")
    settings.pop("default_host", None)
    settings.pop("default_port", None)
    settings.setdefault("listen", f"{host}:{port}")
    proxy = os.environ.get("TRACKING_TRUSTED_PROXY") or global_conf.get("trusted_proxy")
    if proxy:
        settings["trusted_proxy"] = proxy
    waitress.serve(app, **settings)
