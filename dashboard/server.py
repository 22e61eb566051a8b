"""Start Streamlit on ``app.py`` with its `st.navigation` as the only page router.

Streamlit still honours its older file-based multipage mode whenever a ``pages/`` folder sits
beside the main script, until the first script run calls `st.navigation`. On a fresh server a
deep link (``/targets``) therefore ran ``pages/targets.py`` on its own — no page config, no
navigation — and ``/run`` showed "Page not found". Telling Streamlit up front that this app
does not use the pages directory makes every first request go through ``app.py``.
"""

from __future__ import annotations

import sys

from streamlit.runtime.pages_manager import PagesManager
from streamlit.web import cli


def main() -> None:
    PagesManager.uses_pages_directory = False  # set once per process, before any session starts
    sys.argv = ["streamlit", *sys.argv[1:]]
    cli.main()


if __name__ == "__main__":
    main()
