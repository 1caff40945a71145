"""Running untrusted snippets: a warm fork server and layered isolation (see docs/sandbox.md).

Importing this package never imports torch; only the zygote and its workers do.
"""

from gradtrace.sandbox.limits import RunLimits, SandboxLimits
from gradtrace.sandbox.supervisor import Overloaded, SandboxUnavailable, Supervisor

__all__ = ["Overloaded", "RunLimits", "SandboxLimits", "SandboxUnavailable", "Supervisor"]
