"""The report: what a run wrote, built from its check results and written in every format.

``model`` builds the canonical conformance.json record (outcomes per requirement, the verdict, load
figures) and writes every file; ``writers`` renders HTML, Markdown and JUnit (``templates/``); ``terminal``
prints the summary; ``drift`` compares two reports; ``prometheus`` writes and pushes the metrics;
``upload`` keeps reports in S3, GCS or Azure Blob.
"""

from readiness.report.model import (
    REPORT_FILES,
    SCHEMA_PATH,
    SCHEMA_VERSION,
    build_report,
    new_run_id,
    requirement_outcomes,
    write_reports,
)

__all__ = [
    "REPORT_FILES",
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "build_report",
    "new_run_id",
    "requirement_outcomes",
    "write_reports",
]
