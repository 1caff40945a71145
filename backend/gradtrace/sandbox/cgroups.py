"""Per-slot cgroups (v1): a memory cap for a whole run and a task cap, prepared by the parent.

RLIMIT_AS bounds one process; a run that forks can multiply it. The memory cgroup bounds the
sum (the kernel's OOM killer acts inside the cgroup only), the pids cgroup bounds tasks
independently of uids. The worker joins both (`isolate.join_cgroups`) before it gives up root.
"""

from __future__ import annotations

import contextlib
import os
import time

CGROUP_ROOT = "/sys/fs/cgroup"
CONTROLLERS = ("memory", "pids")


class SlotCgroups:
    """The memory and pids cgroups of one slot: /sys/fs/cgroup/<ctrl>/gradtrace/<name>."""

    def __init__(self, name: str) -> None:
        self.dirs = {c: os.path.join(CGROUP_ROOT, c, "gradtrace", name) for c in CONTROLLERS}

    @staticmethod
    def available() -> bool:
        return all(os.path.isfile(os.path.join(CGROUP_ROOT, c, "cgroup.procs")) for c in CONTROLLERS)

    def create(self, *, memory_bytes: int, tasks: int) -> None:
        for path in self.dirs.values():
            os.makedirs(path, exist_ok=True)
        self._write("pids", "pids.max", str(tasks))
        self.set_memory(memory_bytes)
        # Swap would let a run exceed the cap slowly instead of being stopped.
        with contextlib.suppress(OSError):
            self._write("memory", "memory.swappiness", "0")

    def set_memory(self, memory_bytes: int) -> None:
        self._write("memory", "memory.limit_in_bytes", str(memory_bytes))
        with contextlib.suppress(OSError):  # only with swap accounting
            self._write("memory", "memory.memsw.limit_in_bytes", str(memory_bytes))

    def oom_kills(self) -> int:
        """How many processes the kernel OOM-killed in this cgroup so far."""
        try:
            with open(os.path.join(self.dirs["memory"], "memory.oom_control")) as f:
                for line in f:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except (OSError, ValueError):
            pass
        return 0

    def paths(self) -> list[str]:
        return list(self.dirs.values())

    def remove(self) -> None:
        for path in self.dirs.values():
            for _ in range(50):  # the last task may still be leaving
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)

    def _write(self, controller: str, name: str, value: str) -> None:
        with open(os.path.join(self.dirs[controller], name), "w") as f:
            f.write(value)
