"""Loads the prefect-readiness plugin for checks under suites/ and the project's own tests."""

pytest_plugins = ["readiness.plugin"]
