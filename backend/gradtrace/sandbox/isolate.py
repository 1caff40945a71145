"""The isolation layers a worker applies to itself before it runs a snippet.

Each layer is one small function that either succeeds or raises `LayerError`, so each can be
tested on its own and the worker can report exactly which layers are active. They run in the
forked worker (never in the web server), in the order of `LAYER_ORDER`; everything the snippet
will need (torch, the tracer, pyseccomp) is imported *before* the root is switched and the
seccomp filter is loaded.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import socket
from collections.abc import Iterable, Mapping, Sequence

# Layer names, in the order the worker applies them (also the keys of the health report).
LAYER_ORDER = ("fds", "env", "pidns", "cgroup", "netns", "mountns", "rlimits", "uid", "no_new_privs", "seccomp")

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWTIME = 0x00000080

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
SYS_PIVOT_ROOT = 155  # x86_64

_libc = ctypes.CDLL(None, use_errno=True)
_libc.unshare.argtypes = [ctypes.c_int]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.syscall.restype = ctypes.c_long


class LayerError(RuntimeError):
    """An isolation layer could not be applied."""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise LayerError(f"{what}: {os.strerror(err)} (errno {err})")


# --- fds -----------------------------------------------------------------------------------


def close_inherited_fds(keep: Sequence[int]) -> list[int]:
    """Point 0/1/2 at /dev/null, move `keep` to 3, 4, ... and close every other fd.

    Returns the new numbers of the kept fds, in order. Anything the zygote had open (its
    control socket, other workers' pipes, log files) is gone afterwards.
    """
    keep = list(keep)
    # Park the kept fds high first so dup2 onto 3, 4, ... never clobbers one of them.
    parked = [os.dup(fd) for fd in keep]
    devnull = os.open("/dev/null", os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(devnull, target)
    new: list[int] = []
    for i, fd in enumerate(parked):
        os.dup2(fd, 3 + i, inheritable=False)
        new.append(3 + i)
    os.closerange(3 + len(new), 1 << 20)
    return new


def open_fds() -> list[int]:
    """The fds this process has open (for tests and self-checks)."""
    return sorted(int(name) for name in os.listdir("/proc/self/fd"))


# --- environment ---------------------------------------------------------------------------


def clear_environment(keep: Mapping[str, str] | None = None) -> None:
    """Empty the environment (Python's and the C one), then set only `keep`."""
    for name in list(os.environ):
        del os.environ[name]  # unsetenv() too, so C code sees nothing either
    for name, value in (keep or {}).items():
        os.environ[name] = value


# --- cgroups ------------------------------------------------------------------------------


def join_cgroups(dirs: Sequence[str]) -> None:
    """Move this process into each cgroup (v1) directory; its descendants follow.

    The supervisor prepares one memory and one pids cgroup per slot: memory caps the whole
    run (RLIMIT_AS is per process, so without it a few forked children could each take the
    full budget) and pids caps its tasks. Must run while still root and before the mount
    namespace hides /sys.
    """
    if not dirs:
        raise LayerError("no cgroup prepared")
    for path in dirs:
        try:
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write("0")  # 0 = the writing process
        except OSError as exc:
            raise LayerError(f"cannot join {path}: {exc}") from exc


# --- namespaces ----------------------------------------------------------------------------


def unshare(flags: int) -> None:
    """unshare(2) via ctypes (Python 3.11 has no os.unshare)."""
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def new_pid_namespace() -> None:
    """The *next* child of the caller becomes pid 1 of a fresh pid namespace.

    When that pid 1 dies the kernel kills every process left in the namespace: this is
    what guarantees no process of a run outlives it.
    """
    unshare(CLONE_NEWPID)


def new_network_namespace() -> None:
    """A network namespace with only a down loopback: no network at all, not even 127.0.0.1.

    Abstract unix sockets are per network namespace, so this also cuts those off.
    """
    unshare(CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode() if source is not None else None,
            target.encode(),
            fstype.encode() if fstype is not None else None,
            flags,
            data.encode() if data is not None else None,
        ),
        f"mount {source} on {target}",
    )


def _bind_readonly(src: str, dst: str) -> None:
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.exists(dst):
            with open(dst, "w"):
                pass
    _mount(src, dst, None, MS_BIND | MS_REC)
    _mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _bind_device(src: str, dst: str) -> None:
    with open(dst, "w"):
        pass
    _mount(src, dst, None, MS_BIND)
    _mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NOEXEC)


def minimal_paths(paths: Iterable[str]) -> list[str]:
    """Real paths, deduplicated, dropping any path inside another one (one bind covers it)."""
    real = sorted({os.path.realpath(p) for p in paths if p and os.path.exists(p)} - {"/"})
    out: list[str] = []
    for p in real:
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in out):
            out.append(p)
    return out


def new_mount_namespace(
    *,
    root_dir: str,
    ro_paths: Sequence[str],
    symlinks: Mapping[str, str],
    scratch_bytes: int,
    scratch_inodes: int,
    uid: int | None,
) -> None:
    """A private mount namespace whose whole filesystem is built from scratch.

    `root_dir` (an empty host directory) gets a small tmpfs holding: read-only binds of
    `ro_paths` (what Python and torch need, at their host paths), `symlinks` (e.g. /lib ->
    usr/lib), /dev/{null,zero,urandom,random}, a size-capped tmpfs at /tmp (the scratch dir,
    also the cwd), and a fresh /proc with hidepid=invisible. Then pivot_root into it and drop
    the old root, so the host's files, /dev/shm, /sys and /proc are simply not there.
    Must run as root, inside a new pid namespace (so /proc shows only the run's processes).
    """
    unshare(CLONE_NEWNS)
    # Nothing we mount may propagate back to the host.
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("gradtrace-root", root_dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755")
    # The scratch /tmp first, then the read-only binds: a checkout or venv that lives under
    # the host's /tmp (as in a CI clone) must stay visible on top of the scratch, not hidden
    # under it. /tmp itself (or /) is never bound: that would expose the host's /tmp.
    os.makedirs(root_dir + "/tmp", exist_ok=True)
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    _mount(
        "gradtrace-scratch",
        root_dir + "/tmp",
        "tmpfs",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        f"size={scratch_bytes},nr_inodes={scratch_inodes},mode=0700{owner}",
    )
    for path in ro_paths:
        if os.path.realpath(path) in ("/", "/tmp"):
            continue
        _bind_readonly(path, root_dir + path)
    for name, target in symlinks.items():
        os.makedirs(os.path.dirname(root_dir + name), exist_ok=True)
        os.symlink(target, root_dir + name)
    os.makedirs(root_dir + "/dev", exist_ok=True)
    for dev in ("null", "zero", "urandom", "random"):
        _bind_device("/dev/" + dev, f"{root_dir}/dev/{dev}")
    os.makedirs(root_dir + "/proc", exist_ok=True)
    _mount("proc", root_dir + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=invisible,subset=pid")
    os.makedirs(root_dir + "/.old")
    _check(_libc.syscall(SYS_PIVOT_ROOT, root_dir.encode(), (root_dir + "/.old").encode()), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old", MNT_DETACH), "umount old root")
    os.rmdir("/.old")
    # The root tmpfs itself becomes read-only: only /tmp is writable.
    _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir("/tmp")


# --- rlimits -------------------------------------------------------------------------------


def vm_size() -> int:
    """This process's current address-space size in bytes (VmSize)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise LayerError("no VmSize in /proc/self/status")


def cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def set_rlimits(
    *,
    memory_bytes: int,
    cpu_seconds: int,
    file_bytes: int,
    open_files: int,
    tasks: int,
) -> None:
    """Hard rlimits (soft = hard) on address space, CPU, file size, fds, tasks; no core files.

    The address-space budget is on top of what the process already maps (the forked zygote
    is ~600 MiB of torch). The CPU budget is on top of what it already used. RLIMIT_NPROC
    counts per uid and is ignored for root, so it only bites after `drop_privileges`.
    The CPU hard limit is one second above the soft one: pid 1 of a namespace ignores
    SIGXCPU, the SIGKILL at the hard limit always lands.
    """
    cpu = int(cpu_used()) + cpu_seconds
    limits = {
        resource.RLIMIT_AS: (vm_size() + memory_bytes,) * 2,
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        resource.RLIMIT_FSIZE: (file_bytes,) * 2,
        resource.RLIMIT_NOFILE: (open_files,) * 2,
        resource.RLIMIT_NPROC: (tasks,) * 2,
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_MEMLOCK: (0, 0),
        resource.RLIMIT_MSGQUEUE: (0, 0),
    }
    for which, value in limits.items():
        try:
            resource.setrlimit(which, value)
        except (ValueError, OSError) as exc:
            raise LayerError(f"setrlimit({which}, {value}): {exc}") from exc


def lower_rlimits(*, memory_bytes: int, cpu_seconds: int) -> None:
    """Tighten RLIMIT_AS and RLIMIT_CPU to one request's budget (never above the current hard limits)."""
    for which, soft in (
        (resource.RLIMIT_AS, vm_size() + memory_bytes),
        (resource.RLIMIT_CPU, int(cpu_used()) + cpu_seconds),
    ):
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard if which != resource.RLIMIT_CPU else hard - 1)
        new_hard = soft + 1 if which == resource.RLIMIT_CPU else soft
        if hard != resource.RLIM_INFINITY:
            new_hard = min(new_hard, hard)
        resource.setrlimit(which, (soft, new_hard))


# --- uid -----------------------------------------------------------------------------------


def drop_privileges(uid: int) -> None:
    """Become uid:gid `uid` with no supplementary groups; root (and all capabilities) is gone."""
    try:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    except OSError as exc:
        raise LayerError(f"cannot switch to uid {uid}: {exc}") from exc
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid):
        raise LayerError("uid switch did not stick")


def no_new_privs() -> None:
    """PR_SET_NO_NEW_PRIVS: no setuid binary or file capability can ever raise privileges."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")


# --- seccomp -------------------------------------------------------------------------------

# Denied with EPERM, so Python raises a clean PermissionError inside the snippet.
DENIED_SYSCALLS = (
    # running other programs
    "execve", "execveat",
    # looking into or controlling other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "pidfd_open",
    # namespaces, mounts, roots
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick",
    # kernel attack surface a snippet never needs
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "kexec_load", "kexec_file_load",
    "init_module", "finit_module", "delete_module", "acct", "swapon", "swapoff", "reboot",
    "syslog", "quotactl", "name_to_handle_at", "open_by_handle_at", "lookup_dcookie",
    "fanotify_init", "personality", "vhangup", "ioperm", "iopl", "settimeofday", "clock_settime",
    "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
)
NEW_NS_FLAGS = (CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP)


def install_seccomp() -> None:
    """Load a seccomp filter (default allow, a deny list that answers EPERM).

    Besides DENIED_SYSCALLS: socket() only for AF_UNIX (torch needs nothing else, and the
    network namespace has no route anyway); clone() that asks for a new namespace; clone3
    answers ENOSYS so libc falls back to clone(), whose flags the filter can see.
    Must be the last layer: after it, mount/unshare/setuid-style set-up is impossible.
    """
    try:
        import pyseccomp as seccomp
    except Exception as exc:  # pragma: no cover - the dependency is declared
        raise LayerError(f"pyseccomp unavailable: {exc}") from exc
    eperm = seccomp.ERRNO(errno.EPERM)
    try:
        filt = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        for name in DENIED_SYSCALLS:
            try:
                filt.add_rule(eperm, name)
            except (OSError, RuntimeError, ValueError):
                continue  # unknown on this kernel/arch: nothing to deny
        filt.add_rule(eperm, "socket", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
        filt.add_rule(eperm, "socketpair", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
        for flag in NEW_NS_FLAGS:
            filt.add_rule(eperm, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
        filt.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        filt.load()
    except LayerError:
        raise
    except Exception as exc:
        raise LayerError(f"seccomp: {exc}") from exc
