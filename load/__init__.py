"""The Locust workload against the Prefect API (locustfile.py) and the runner that drives it (runner.py)."""
