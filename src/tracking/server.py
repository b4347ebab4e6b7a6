"""The server's entry point: ``[server:main] use = egg:tracking#waitress`` (what ``pserve`` runs).

Building the application (:func:`tracking.main`) starts nothing: no thread, no process, no
signal handler, and no lookup data is loaded, so a command that only needs the application's
database and settings (``tracking-admin``, a script of ``pyramid.paster.bootstrap``) is quick
and leaves nothing behind. :func:`serve` starts the application's background work first
(:func:`start_background`), then waitress.

``pserve development.ini http_port=8000 http_host=0.0.0.0`` picks the address (defaults:
``default_host``/``default_port`` in the ini), and ``TRACKING_TRUSTED_PROXY`` names the reverse
proxy whose ``X-Forwarded-*`` headers waitress may believe (:func:`tracking.settings.server_options`).
Every other key of the section is passed to waitress unchanged.

**Another WSGI server** (gunicorn, uWSGI, mod_wsgi…) serves the application of
``tracking.main`` and calls :func:`start_background` once in each process that serves it, after
the application is built and before the first request, e.g. in a gunicorn ``post_worker_init``
hook: ``start_background(worker.wsgi)``. Without it, hits are acknowledged and buffered but never
written. The hit writer and its SIGTERM handling assume a process that serves with threads, as
waitress does.
"""

import atexit
import ctypes
import gc
import signal
import threading
import weakref

import waitress

from . import ingest
from .settings import server_options

#: The registries whose background work this process started (a registry is a dict: unhashable).
_started: list[weakref.ref] = []


def _registry(app):
    """The Pyramid registry of ``app``, the router ``tracking.main`` made."""
    registry = getattr(app, "registry", None)
    if registry is None:
        raise TypeError(f"start_background() needs the application tracking.main returned, not {app!r}")
    return registry


def _exit_on_sigterm(signum, frame):
    # waitress stops serving on SystemExit and finishes its requests; atexit then writes the hits.
    raise SystemExit(0)


def start_background(app) -> None:
    """Start ``app``'s background work in this process, once: load the user-agent, bot and
    network data, start the hit writer (a process of its own, or a thread: ``tracking.writer``),
    write its buffered hits at exit, and turn SIGTERM into a clean exit (when this is the main
    thread and SIGTERM has no handler yet)."""
    registry = _registry(app)
    if any(started() is registry for started in _started):
        return
    _started.append(weakref.ref(registry))
    store = ingest.start(registry)
    if store is None:
        return
    atexit.register(store.close)
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
        signal.SIG_DFL,
        None,
    ):
        signal.signal(signal.SIGTERM, _exit_on_sigterm)


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
    """``paste.server_runner``: start the background work, then serve with waitress."""
    options = server_options(global_conf, settings)
    start_background(app)  # loads the lookup data: before the objects are frozen and memory trimmed
    freeze_startup_objects()
    release_free_memory()
    waitress.serve(app, **options)
