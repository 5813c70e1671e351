"""Storage: the SQLAlchemy engine, the tables and the Alembic migrations."""
