"""``[server:main] use = egg:tracking#waitress``: waitress, addressed from the command line.

``pserve development.ini http_port=8000 http_host=0.0.0.0`` picks the address (defaults:
``default_host``/``default_port`` in the ini), and ``TRACKING_TRUSTED_PROXY`` names the reverse
proxy whose ``X-Forwarded-*`` headers waitress may believe. Every other key of the section is
passed to waitress unchanged.
"""

import ctypes
import gc
import os

import waitress


def release_free_memory() -> bool:
    """Give the memory that loading freed back to the system (glibc's ``malloc_trim``).

    Loading the application frees much (the country data is read as Python lists, then
    copied into arrays), and glibc keeps freed pages inside its heap unless asked: ~6 MB of
    the process's resident memory."""
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(malloc_trim(0))


def freeze_startup_objects() -> None:
    """Exempt the objects that exist once the application is loaded from garbage collection.

    Modules, classes, functions, templates and lookup tables live as long as the process; left
    in the collector's oldest generation, each full collection walked them all again (~70 ms,
    holding the GIL: every request in flight waited). Frozen, a full collection looks only at
    objects made since: a few milliseconds.
    """
    gc.collect()
    gc.freeze()


def serve(app, global_conf, **settings):
    freeze_startup_objects()
    release_free_memory()
    host = global_conf.get("http_host") or settings.pop("default_host", "localhost")
    port = global_conf.get("http_port") or settings.pop("default_port", "6543")
    settings.pop("default_host", None)
    settings.pop("default_port", None)
    settings.setdefault("listen", f"{host}:{port}")
    proxy = os.environ.get("TRACKING_TRUSTED_PROXY") or global_conf.get("trusted_proxy")
    if proxy:
        settings["trusted_proxy"] = proxy
    waitress.serve(app, **settings)
