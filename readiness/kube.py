"""`readiness.kube`, kept for the imports that name it: the Kubernetes API client built from the targets.

The code is in readiness/targets/kube.py; this name is that module itself (same object, same attributes).
"""

import sys

from readiness.targets import kube as _module

sys.modules[__name__] = _module
