"""Request-level code the blueprints share: access checks, the admission gate, problem answers.

No routes here, and nothing here imports a blueprint package (tests/test_layers.py checks).
"""
