"""Report queries: plain functions over a SQLAlchemy session, knowing nothing of views."""
