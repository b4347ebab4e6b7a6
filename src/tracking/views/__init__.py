"""Thin views, one module per group of contexts."""


from ..interfaces import ISettings


def registration_open(request) -> bool:
    """``request.registration_open``: whether the pages offer "Create an account"."""
    return request.registry.getUtility(ISettings).registration == "open"


def includeme(config) -> None:
    config.add_request_method(registration_open, "registration_open", reify=True)
    config.add_static_view("static", "tracking:static", cache_max_age=3600)
    config.add_static_view("deform_static", "deform:static", cache_max_age=3600)
