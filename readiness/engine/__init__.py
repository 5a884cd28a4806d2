"""The pytest plugin: options and markers, fixtures, outcome classification, timeouts and interruption,
run finishing. Registered as the ``readiness.plugin`` pytest11 entry point (``readiness/engine/plugin.py``).
"""
