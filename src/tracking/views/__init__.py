"""Thin views, one module per group of contexts."""


def includeme(config) -> None:
    config.add_static_view("static", "tracking:static", cache_max_age=3600)
    config.add_static_view("deform_static", "deform:static", cache_max_age=3600)
