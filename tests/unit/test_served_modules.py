"""What the served application imports: its scan finds the views and leaves the console scripts
out, so that a server never loads the demo generator (``tracking-demo``) or ``tracking-admin``."""

import os
import subprocess
import sys

SCRIPT = """
import sys
from tracking import main
main({}, **{"sqlalchemy.url": sys.argv[1], "tracking.secret": "s" * 40, "tracking.writer": "off"})
print(" ".join(sorted(name for name in sys.modules if name.startswith(("tracking.scripts", "tracking.views.")))))
"""


def test_the_app_does_not_import_the_console_scripts(tmp_path):
    environ = {name: value for name, value in os.environ.items() if not name.startswith("TRACKING_")}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", SCRIPT, f"sqlite:///{tmp_path}/app.sqlite"],
        capture_output=True, text=True, timeout=120, check=True, env=environ,
    )
    imported = done.stdout.split()
    assert "tracking.views.users" in imported  # the scan ran
    assert [name for name in imported if name.startswith("tracking.scripts")] == []
