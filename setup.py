import os

from setuptools import find_namespace_packages, setup

here = os.path.abspath(os.path.dirname(__file__))
with open(os.path.join(here, "README.md"), encoding="utf-8") as f:
    README = f.read()

requires = [
    "alembic>=1.13",
    "argon2-cffi>=23",
    # Country names (territory names of the Unicode CLDR) on the dashboard and visit pages.
    "Babel>=2.14",
    "colander>=2.0",
    # crawler-user-agents and device-detector: lists of bots read from their files (bots.py).
    "crawler-user-agents>=1.67,<2",
    "crawlerdetect>=0.4",
    "deform>=3.0",
    "device-detector>=6.5,<7",
    "geoip2>=4.8",
    "geoip2fast>=1.2",
    "libpass>=1.9",
    "markupsafe>=2.1",
    "plaster_pastedeploy",
    "psycopg[binary]>=3.1",
    "pyramid>=2.0,<3",
    "pyramid_jinja2>=2.10",
    "pyramid_retry>=2.1",
    "pyramid_tm>=2.5",
    # Pyramid 2.x and Deform 3.0 still import pkg_resources.
    "setuptools>=78.1.1,<80.9",  # 80.9+: a UserWarning on every command (README, "Deploying")
    "SQLAlchemy>=2.0.30,<2.1",
    "transaction>=4",
    "ua-parser[regex]>=1.0",
    "waitress>=3.0",
    # Reads device-detector's YAML lists (it depends on it too).
    "yaml-rs>=0.1",
    "zope.sqlalchemy>=3.1",
]

tests_require = [
    "hypothesis>=6.100",
    # The API's answers are validated against its OpenAPI document; schemathesis fuzzes a live server with it.
    "jsonschema>=4.20",
    "maxminddb-geolite2>=2018.703",
    # make lint: pinned, so that a new release's rules do not fail a checkout that passed.
    "mypy==2.4.1",
    "mypy-zope==1.0.17",
    "playwright>=1.40",
    "pytest>=8",
    "pytest-cov>=5",
    "ruff==0.17.6",
    # The experiments' statistics are checked against an independent implementation.
    "scipy>=1.11",
    "schemathesis>=4.30,<5",
    "types-waitress==3.0.1.20260724",
    "WebTest>=3.0",
]

setup(
    name="tracking",
    version="0.1.0",
    description="Self-hosted, privacy-friendly web analytics",
    long_description=README,
    long_description_content_type="text/markdown",
    classifiers=[
        "Programming Language :: Python :: 3.11",
        "Framework :: Pyramid",
        "Topic :: Internet :: WWW/HTTP :: Site Management",
    ],
    python_requires=">=3.11",
    package_dir={"": "src"},
    # Namespace discovery: the folders of templates, static files and migrations are packages of
    # data (no __init__.py), shipped with their files (MANIFEST.in) like the code.
    packages=find_namespace_packages("src", include=["tracking", "tracking.*"], exclude=["*.__pycache__"]),
    include_package_data=True,
    zip_safe=False,
    install_requires=requires,
    extras_require={"testing": tests_require},
    entry_points={
        "paste.app_factory": ["main = tracking:main"],
        "paste.server_runner": ["waitress = tracking.server:serve"],
        "console_scripts": [
            "tracking-admin = tracking.scripts.admin:main",
            "tracking-demo = tracking.scripts.demo:main",
        ],
    },
)
