"""The database proof: a throwaway PostgreSQL that runs the project's own migrations.

``server`` starts and always removes the private server, ``runner`` is the child process that
drives Alembic inside the user's environment, ``plan`` decides the steps and which schema
snapshots must match, ``snapshot`` reads the schema from the catalogs, ``proof`` ties them
together and ``report`` formats the result. Nothing here is imported by the static gate.
"""
