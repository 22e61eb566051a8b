"""The embedded reference service (FastAPI) that implements the scaling guide, and its load generator.

Python API: ``refservice.app.create_app(Settings(...))`` and ``refservice.loadgen.run(LoadSpec(...))``.
"""
