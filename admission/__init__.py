"""The admission queue (waiting room): Redis keys, Lua scripts and tokens; no Flask.

Named ``admission`` rather than ``queue``: a top-level ``queue`` package would shadow the
standard library's ``queue`` module, which redis-py imports, and ``import redis`` would fail.
"""
