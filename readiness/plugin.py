"""`readiness.plugin`, kept for the imports that name it: the pytest plugin
(`pytest -p readiness.plugin`; also the name of the pytest11 entry point).

The code is in readiness/engine/plugin.py; this name is that module itself (same object, same attributes).
"""

import sys

from readiness.engine import plugin as _module

sys.modules[__name__] = _module
