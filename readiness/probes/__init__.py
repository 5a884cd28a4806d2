"""Probes: clients that talk to one component and return typed observations.

Protocol failures are translated here, at the boundary, into :class:`readiness.expect.CheckError`
with a cause a person can act on; checks never see a raw library exception.
"""
