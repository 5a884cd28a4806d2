"""prefect-readiness: readiness and conformance suite for self-managed Prefect installs."""

__version__ = "0.1.0"
