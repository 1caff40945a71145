"""Per-slot cgroups (v1): memory, task and CPU caps for a whole run, prepared by the parent.

RLIMIT_AS and RLIMIT_CPU bound one process; a run that forks can multiply them. The memory
cgroup bounds the sum (the kernel's OOM killer acts inside the cgroup only), the pids cgroup
bounds tasks independently of uids, and the cpu cgroup's CFS quota bounds how many cores the
run's processes use together (busy children cannot take the other slots' cores). The worker
joins them all (`isolate.join_cgroups`) before it gives up root. memory and pids are required
for the layer; cpu is used where the host has it.
"""

from __future__ import annotations

import contextlib
import os
import time

CGROUP_ROOT = "/sys/fs/cgroup"
CONTROLLERS = ("memory", "pids")
CPU_PERIOD_US = 100_000  # the CFS period the quota is a share of (the kernel's default)


def _mounted(controller: str) -> bool:
    return os.path.isfile(os.path.join(CGROUP_ROOT, controller, "cgroup.procs"))


class SlotCgroups:
    """The cgroups of one slot: /sys/fs/cgroup/<ctrl>/gradtrace/<name> for memory, pids and
    (where mounted) cpu."""

    def __init__(self, name: str) -> None:
        controllers = CONTROLLERS + (("cpu",) if _mounted("cpu") else ())
        self.dirs = {c: os.path.join(CGROUP_ROOT, c, "gradtrace", name) for c in controllers}
        self.cpu_cores: float | None = None  # the quota set, None: no cpu cgroup

    @staticmethod
    def available() -> bool:
        return all(_mounted(c) for c in CONTROLLERS)

    def create(self, *, memory_bytes: int, tasks: int, cpu_cores: float | None = None) -> None:
        for controller, path in list(self.dirs.items()):
            try:
                os.makedirs(path, exist_ok=True)
            except OSError:
                if controller in CONTROLLERS:
                    raise
                del self.dirs[controller]  # optional: the run goes without it
        self._write("pids", "pids.max", str(tasks))
        if cpu_cores is not None and "cpu" in self.dirs:
            try:
                self._write("cpu", "cpu.cfs_period_us", str(CPU_PERIOD_US))
                self._write("cpu", "cpu.cfs_quota_us", str(max(1000, int(cpu_cores * CPU_PERIOD_US))))
                self.cpu_cores = cpu_cores
            except OSError:
                with contextlib.suppress(OSError):
                    os.rmdir(self.dirs.pop("cpu"))
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
