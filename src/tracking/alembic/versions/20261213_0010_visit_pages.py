"""visit pages: each visit lists the paths it viewed and the events it sent

Revision ID: 0010_visit_pages
Revises: 0009_members
Create Date: 2026-12-12 09:00:00.000000

A page or event filter used to find its visits among the period's hits, then those visits'
hits again. ``visits.pages`` and ``visits.event_names`` (``tracking.models.hits.listing``: each
distinct value between two U+001F) make it a condition on the visit row, as a country filter is.
The hit writer keeps them; here they are filled from the hits already stored, exactly.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_visit_pages"
down_revision = "0009_members"
branch_labels = None
depends_on = None

#: PostgreSQL: one pass over the hits, grouped by visit; values in the order first seen.
_FILL_POSTGRESQL = """
UPDATE visits SET pages = lists.pages, event_names = lists.event_names
FROM (
    SELECT visit_id,
           coalesce(chr(31) || string_agg(path, chr(31) ORDER BY first_at, path)
                    FILTER (WHERE event = 'pageview') || chr(31), '') AS pages,
           coalesce(chr(31) || string_agg(event, chr(31) ORDER BY first_at, event)
                    FILTER (WHERE event <> 'pageview') || chr(31), '') AS event_names
    FROM (
        SELECT visit_id, event, CASE WHEN event = 'pageview' THEN path ELSE '' END AS path, min(id) AS first_at
        FROM hits WHERE visit_id IS NOT NULL
        GROUP BY visit_id, event, CASE WHEN event = 'pageview' THEN path ELSE '' END
    ) AS firsts
    GROUP BY visit_id
) AS lists
WHERE visits.id = lists.visit_id
"""

#: SQLite: per visit, through the hits' visit index; each value at its first hit.
_FILL_SQLITE = """
UPDATE visits SET
    pages = coalesce((
        SELECT char(31) || group_concat(path, char(31)) || char(31) FROM (
            SELECT path FROM hits WHERE visit_id = visits.id AND event = 'pageview'
            GROUP BY path ORDER BY min(id)
        )), ''),
    event_names = coalesce((
        SELECT char(31) || group_concat(event, char(31)) || char(31) FROM (
            SELECT event FROM hits WHERE visit_id = visits.id AND event <> 'pageview'
            GROUP BY event ORDER BY min(id)
        )), '')
"""


def upgrade():
    with op.batch_alter_table("visits") as batch:
        batch.add_column(sa.Column("pages", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("event_names", sa.Text(), server_default="", nullable=False))
    op.execute(_FILL_POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _FILL_SQLITE)


def downgrade():
    with op.batch_alter_table("visits") as batch:
        batch.drop_column("event_names")
        batch.drop_column("pages")
