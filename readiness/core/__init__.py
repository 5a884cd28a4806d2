"""The vocabulary every layer speaks, importing nothing else of readiness.

``model`` (outcomes, check results, the verdict rule and exit statuses), ``expect`` (the expectation helper
a check states its rule with), ``profile`` (the requirement catalog and profiles), ``scope`` (what a run left
out on purpose), ``waivers``, ``redact`` (no secret in any output), ``bundle`` (where profiles/, suites/ and
load/ live), ``process`` (child processes tied to their parent), ``cache`` (the build cache folder).
"""
