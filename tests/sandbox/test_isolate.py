"""Each isolation layer on its own, applied in a forked child of the test process.

`in_child` forks (optionally into a fresh pid namespace, as the zygote does), runs a function
that applies one layer and probes it, and sends back a JSON report.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gradtrace.sandbox import isolate

ROOT_DIR = "/run/gradtrace-sandbox/root"
# A uid of its own per test process, far from the supervisors' blocks.
TEST_UID = 2_900_000 + os.getpid() % 50_000
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
# The child's report pipe; a layer that renumbers fds (close_inherited_fds) updates it.
REPORT_FD = [-1]


def in_child(fn: Callable[[], dict[str, Any]], *, pidns: bool = False) -> dict[str, Any]:
    """Run fn in a forked child (pid 1 of a new pid namespace if `pidns`); return its report."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(r)
            REPORT_FD[0] = w
            if pidns:
                isolate.new_pid_namespace()
                inner = os.fork()
                if inner:
                    _, status = os.waitpid(inner, 0)
                    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
            try:
                report = fn()
            except BaseException:
                report = {"exception": traceback.format_exc()}
            os.write(REPORT_FD[0], json.dumps(report).encode())
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 1 << 16):
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    assert chunks, f"child wrote nothing (status {status})"
    report: dict[str, Any] = json.loads(b"".join(chunks))
    assert "exception" not in report, report["exception"]
    return report


def errno_of(fn: Callable[[], object]) -> int | None:
    try:
        fn()
    except OSError as exc:
        return exc.errno
    return None


def test_close_inherited_fds(tmp_path: Path) -> None:
    def child() -> dict[str, Any]:
        stray = [os.open(tmp_path / f"f{i}", os.O_CREAT | os.O_RDWR) for i in range(5)]
        keep_r, keep_w = os.pipe()
        REPORT_FD[0], new_w, new_r = isolate.close_inherited_fds([REPORT_FD[0], keep_w, keep_r])
        os.write(new_w, b"still works")
        return {
            "fds": isolate.open_fds(),
            "kept": [REPORT_FD[0], new_w, new_r],
            "stray_closed": all(errno_of(lambda fd=fd: os.fstat(fd)) == errno.EBADF for fd in stray if fd > 5),
            "stdin": os.readlink("/proc/self/fd/0"),
            "read_back": os.read(new_r, 100).decode(),
        }

    report = in_child(child)
    assert report["kept"] == [3, 4, 5]
    assert report["fds"][:6] == [0, 1, 2, 3, 4, 5] and len(report["fds"]) <= 7  # +1: listdir's own fd
    assert report["stray_closed"] and report["stdin"] == "/dev/null"
    assert report["read_back"] == "still works"


def test_clear_environment() -> None:
    os.environ["GT_LAYER_SECRET"] = "hunter2"

    def child() -> dict[str, Any]:
        isolate.clear_environment({"HOME": "/tmp"})
        libc.getenv.restype = ctypes.c_char_p
        return {"env": dict(os.environ), "c_getenv": libc.getenv(b"GT_LAYER_SECRET")}

    report = in_child(child)
    del os.environ["GT_LAYER_SECRET"]
    assert report == {"env": {"HOME": "/tmp"}, "c_getenv": None}


def test_network_namespace_has_no_network() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    port = listener.getsockname()[1]

    def child() -> dict[str, Any]:
        isolate.new_network_namespace()
        s = socket.socket()
        s.settimeout(1)
        return {
            "connect": errno_of(lambda: s.connect(("127.0.0.1", port))),
            "interfaces": [name for _, name in socket.if_nameindex()],
            "dns": errno_of(lambda: socket.getaddrinfo("example.com", 80)) is not None
            or "gaierror",
        }

    try:
        report = in_child(child)
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    assert report["connect"] in (errno.ENETUNREACH, errno.ECONNREFUSED, errno.EHOSTUNREACH)
    assert report["interfaces"] == ["lo"]


def test_join_cgroups_moves_the_process_and_caps_tasks() -> None:
    from gradtrace.sandbox.cgroups import SlotCgroups

    if not SlotCgroups.available():
        pytest.skip("no cgroup v1 memory+pids hierarchy")
    cg = SlotCgroups(f"layer-test-{os.getpid()}")
    cg.create(memory_bytes=256 << 20, tasks=4)

    def child() -> dict[str, Any]:
        isolate.join_cgroups(cg.paths())
        forked, kids = 0, []
        for _ in range(8):
            try:
                kid = os.fork()
            except OSError:
                break
            if kid == 0:
                signal.pause()
                os._exit(0)
            kids.append(kid)
            forked += 1
        for kid in kids:
            os.kill(kid, signal.SIGKILL)
            os.waitpid(kid, 0)
        return {"cgroup": Path("/proc/self/cgroup").read_text(), "forked": forked}

    try:
        report = in_child(child)
    finally:
        cg.remove()
    assert f"memory:/gradtrace/layer-test-{os.getpid()}" in report["cgroup"]
    assert report["forked"] == 3  # pids.max 4 includes the child itself


def test_pid_namespace_makes_the_child_pid_1() -> None:
    report = in_child(lambda: {"pid": os.getpid(), "ppid": os.getppid()}, pidns=True)
    assert report == {"pid": 1, "ppid": 0}


def test_mount_namespace_shows_only_the_runtime(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.write_text("secret")
    os.makedirs(ROOT_DIR, exist_ok=True)
    ro = isolate.minimal_paths(["/usr", sys.prefix, sys.base_prefix, *sys.path])

    def child() -> dict[str, Any]:
        isolate.new_mount_namespace(
            root_dir=ROOT_DIR,
            ro_paths=ro,
            symlinks={"/lib": "usr/lib"} if os.path.islink("/lib") else {},
            scratch_bytes=8 << 20,
            scratch_inodes=64,
            uid=TEST_UID,
        )
        isolate.drop_privileges(TEST_UID)
        st = os.statvfs("/tmp")
        import colorsys  # a stdlib module nobody imported yet: the runtime is readable

        return {
            "root": sorted(os.listdir("/")),
            "cwd": os.getcwd(),
            "canary": os.path.exists(str(canary)),
            "etc": os.path.exists("/etc"),
            "dev": sorted(os.listdir("/dev")),
            "proc": sorted(p for p in os.listdir("/proc") if p.isdigit()),
            "write_root": errno_of(lambda: open("/x", "w")),
            "write_usr": errno_of(lambda: open(ro[0] + "/x", "w")),
            "write_tmp": errno_of(lambda: Path("/tmp/ok").write_text("ok")),
            "tmp_bytes": st.f_blocks * st.f_frsize,
            "module": colorsys.__name__,
            "devnull": open("/dev/null", "w").write("x"),
        }

    report = in_child(child, pidns=True)
    assert report["cwd"] == "/tmp" and not report["canary"] and not report["etc"]
    # Only the system dirs plus the top of each runtime path (e.g. wherever the checkout and its
    # venv live: /work, /check, /home) may show at the new root.
    runtime_tops = {Path(p).parts[1] for p in ro}
    assert set(report["root"]) <= {"usr", "lib", "lib64", "bin", "sbin", "dev", "proc", "tmp"} | runtime_tops
    assert report["dev"] == ["null", "random", "urandom", "zero"]
    assert report["proc"] == ["1"]
    assert report["write_root"] == errno.EROFS and report["write_usr"] == errno.EROFS
    assert report["write_tmp"] is None and report["tmp_bytes"] == 8 << 20
    assert report["module"] == "colorsys" and report["devnull"] == 1
    assert os.listdir(ROOT_DIR) == []  # nothing propagated back to the host


def test_rlimits_cap_memory_files_and_cores(tmp_path: Path) -> None:
    def child() -> dict[str, Any]:
        # As a real worker does: drop what the (busy) test process had open, or the fd cap
        # below could already be exceeded by inherited descriptors.
        REPORT_FD[0] = isolate.close_inherited_fds([REPORT_FD[0]])[0]
        isolate.set_rlimits(memory_bytes=64 << 20, cpu_seconds=5, file_bytes=1 << 20, open_files=32, tasks=8)
        try:
            bytearray(256 << 20)
            memory = "allocated"
        except MemoryError:
            memory = "MemoryError"
        with open(tmp_path / "big", "wb") as f:
            big = errno_of(lambda: f.write(b"x" * (2 << 20)) and f.flush())
        return {
            "memory": memory,
            "big_file": big,
            "core": resource.getrlimit(resource.RLIMIT_CORE),
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
            "too_many_fds": errno_of(lambda: [os.open("/dev/null", os.O_RDONLY) for _ in range(64)]),
        }

    report = in_child(child)
    assert report["memory"] == "MemoryError"
    assert report["big_file"] == errno.EFBIG
    assert report["core"] == [0, 0] and report["nofile"] == [32, 32]
    assert report["too_many_fds"] == errno.EMFILE


def test_rlimit_cpu_kills_a_busy_loop() -> None:
    pid = os.fork()
    if pid == 0:
        try:
            isolate.set_rlimits(memory_bytes=64 << 20, cpu_seconds=1, file_bytes=1 << 20, open_files=32, tasks=8)
            while True:
                pass
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGXCPU, signal.SIGKILL)


def test_drop_privileges_and_nproc() -> None:
    def child() -> dict[str, Any]:
        isolate.set_rlimits(memory_bytes=256 << 20, cpu_seconds=5, file_bytes=1 << 20, open_files=32, tasks=4)
        isolate.drop_privileges(TEST_UID)
        forked, last = 0, None
        kids = []
        for _ in range(10):
            try:
                kid = os.fork()
            except OSError as exc:
                last = exc.errno
                break
            if kid == 0:
                signal.pause()
                os._exit(0)
            kids.append(kid)
            forked += 1
        for kid in kids:
            os.kill(kid, signal.SIGKILL)
            os.waitpid(kid, 0)
        return {
            "ids": [os.getresuid(), os.getresgid(), os.getgroups()],
            "root_file": errno_of(lambda: open("/root/.profile")) if os.path.exists("/root/.profile") else errno.EACCES,
            "regain_root": errno_of(lambda: os.setuid(0)),
            "forked": forked,
            "fork_error": last,
        }

    report = in_child(child)
    assert report["ids"] == [[TEST_UID] * 3, [TEST_UID] * 3, []]
    assert report["root_file"] == errno.EACCES and report["regain_root"] == errno.EPERM
    assert report["forked"] <= 3 and report["fork_error"] == errno.EAGAIN


def test_no_new_privs() -> None:
    def child() -> dict[str, Any]:
        isolate.no_new_privs()
        status = Path("/proc/self/status").read_text()
        return {"nnp": [line for line in status.splitlines() if line.startswith("NoNewPrivs")]}

    assert in_child(child) == {"nnp": ["NoNewPrivs:\t1"]}


def test_seccomp_denies_exec_sockets_namespaces_ptrace() -> None:
    def child() -> dict[str, Any]:
        isolate.no_new_privs()
        isolate.install_seccomp()

        def sys_errno(nr: int, *args: int) -> int:
            res = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
            return 0 if res >= 0 else ctypes.get_errno()

        unix = socket.socket(socket.AF_UNIX)
        unix.close()
        kid = os.fork()  # plain fork (clone without namespace flags) still works
        if kid == 0:
            os._exit(7)
        _, status = os.waitpid(kid, 0)
        return {
            "execve": errno_of(lambda: os.execv("/bin/true", ["true"])),
            "inet": errno_of(lambda: socket.socket(socket.AF_INET)),
            "inet6": errno_of(lambda: socket.socket(socket.AF_INET6)),
            "netlink": errno_of(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)),
            "unshare": sys_errno(272, isolate.CLONE_NEWNET),
            "ptrace": sys_errno(101, 16, 1, 0, 0),  # PTRACE_ATTACH to pid 1
            "mount": sys_errno(165, 0, 0, 0, 0, 0),
            "clone_newuser": sys_errno(56, isolate.CLONE_NEWUSER | signal.SIGCHLD, 0, 0, 0, 0),
            "clone3": sys_errno(435, 0, 0),
            "fork_exit": os.waitstatus_to_exitcode(status),
            "seccomp": [line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("Seccomp:")],
        }

    report = in_child(child)
    assert report["execve"] == errno.EPERM
    assert report["inet"] == report["inet6"] == report["netlink"] == errno.EPERM
    assert report["ptrace"] == report["mount"] == report["clone_newuser"] == errno.EPERM
    assert report["unshare"] == errno.EPERM
    assert report["clone3"] == errno.ENOSYS
    assert report["fork_exit"] == 7 and report["seccomp"] == ["Seccomp:\t2"]


def test_minimal_paths_drops_nested_and_missing(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    paths = [str(tmp_path / "a" / "b"), str(tmp_path / "a"), str(tmp_path / "missing"), "/", ""]
    assert isolate.minimal_paths(paths) == [str(tmp_path / "a")]


def test_each_layer_is_reported_in_order() -> None:
    assert isolate.LAYER_ORDER == (
        "fds", "env", "pidns", "cgroup", "netns", "mountns", "rlimits", "uid", "no_new_privs", "seccomp",
    )
