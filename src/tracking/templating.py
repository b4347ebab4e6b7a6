"""Jinja2 templates: autoescaped, with a few globals for the layout."""


def includeme(config) -> None:
    config.include("pyramid_jinja2")
    config.add_jinja2_renderer(".jinja2")
    config.add_jinja2_search_path("tracking:templates", name=".jinja2")
