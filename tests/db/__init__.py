"""Database proof tests: real PostgreSQL servers."""
