"""Business operations on a SQLAlchemy session: no Flask, no commits, domain errors only."""
