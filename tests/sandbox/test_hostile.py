"""Hostile snippets through the real Supervisor; each run is checked against every witness.

`witness.check()` asserts: no connection reached the loopback listener, the canaries' secret
is nowhere in the result and the files are untouched, the test process's environment did not
leak, no process of the run is left (by slot uid and by marker name), and a benign snippet
still succeeds right after.
"""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Sandbox, Witness

# Short limits where the point is containment, not the snippet.
SHORT: dict[str, Any] = {"wall_seconds": 2.5, "cpu_seconds": 2}

# Used by several snippets: try every way out and print what happened.
PROBE_NET = """
import socket
for fam, addr in ((socket.AF_INET, ("127.0.0.1", __PORT__)), (socket.AF_INET6, ("::1", __PORT__))):
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(1)
        s.connect(addr)
        print("CONNECTED", addr)
    except OSError as e:
        print("connect blocked:", e)
"""

CASES: dict[str, tuple[str, dict[str, Any], set[str]]] = {
    # --- runaway time ---
    "python_infinite_loop": ("while True:\n    pass\n", SHORT, {"timeout"}),
    "torch_c_loop": (
        # One op that runs for minutes inside C++: only the parent's hard kill stops it.
        "import torch\nx = torch.ones(1).expand(10**12)\nprint(x.sum())\n",
        SHORT,
        {"timeout"},
    ),
    "sleep_forever": ("import time\ntime.sleep(10**6)\n", SHORT, {"timeout"}),
    "sigalrm_ignored": (
        # Defeats the tracer's soft timeout; the wall clock kill still lands.
        "import signal, time\nfor s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU, signal.SIGPROF):\n"
        "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass\n",
        SHORT,
        {"timeout"},
    ),
    "sigterm_handler_sleep": (
        "import signal, time\nsignal.signal(signal.SIGTERM, lambda *a: None)\n"
        "signal.signal(signal.SIGALRM, lambda *a: None)\nwhile True:\n    time.sleep(0.01)\n",
        SHORT,
        {"timeout"},
    ),
    # --- memory ---
    "python_memory_bomb": (
        "chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 2**20))\n",
        {**SHORT, "memory_bytes": 256 * 2**20},
        {"memory_limit"},
    ),
    "bytearray_100gb": ("x = bytearray(100 * 10**9)\n", SHORT, {"memory_limit"}),
    "torch_empty_100gb": ("import torch\nx = torch.empty(100 * 10**9 // 4)\nx.fill_(1)\n", SHORT, {"memory_limit"}),
    # --- processes ---
    "fork_bomb": (
        "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
        SHORT,
        {"timeout"},
    ),
    "subprocess_and_system": (
        "import os, subprocess\n"
        "cmd = 'python3 -c \"import socket; socket.create_connection((\\'127.0.0.1\\', __PORT__))\"; cat __CANARY__'\n"
        "for f in (lambda: subprocess.run(cmd, shell=True, capture_output=True).stdout,\n"
        "          lambda: os.system(cmd),\n"
        "          lambda: os.popen(cmd).read(),\n"
        "          lambda: os.execv('/bin/sh', ['sh', '-c', cmd]),\n"
        "          lambda: os.posix_spawn('/bin/sh', ['sh', '-c', cmd], {})):\n"
        "    try:\n        print('ran:', f())\n    except Exception as e:\n        print('blocked:', type(e).__name__, e)\n",
        SHORT,
        {"ok"},
    ),
    "double_fork_daemon": (
        # Classic daemonisation; the grandchild keeps trying to get out after the run ends.
        "import os, time, ctypes, socket\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        ctypes.CDLL(None).prctl(15, b'gtsurvivor', 0, 0, 0)\n"
        "        while True:\n"
        "            try:\n                socket.create_connection(('127.0.0.1', __PORT__), timeout=0.2)\n"
        "            except OSError:\n                pass\n"
        "            time.sleep(0.05)\n"
        "    os._exit(0)\n"
        "time.sleep(0.3)\nprint('parent done')\n",
        SHORT,
        {"ok"},
    ),
    "threads_left_running": (
        "import threading, time\n"
        "def spin():\n    while True:\n        time.sleep(0.001)\n"
        "for _ in range(8):\n    threading.Thread(target=spin).start()\n"
        "print('main done')\n",
        SHORT,
        {"ok", "timeout"},
    ),
    "thread_bomb": (
        "import threading, time\nn = 0\ntry:\n    while True:\n"
        "        threading.Thread(target=time.sleep, args=(100,), daemon=True).start()\n        n += 1\n"
        "except RuntimeError as e:\n    print('threads stopped at', n, e)\n",
        SHORT,
        {"ok"},
    ),
    "kill_other_pids": (
        "import os, signal\nkilled = []\n"
        "for pid in list(range(-1, 4000)):\n"
        "    if pid in (0, os.getpid()):\n        continue\n"
        "    try:\n        os.kill(pid, signal.SIGKILL)\n        killed.append(pid)\n    except OSError:\n        pass\n"
        "print('signalled', killed)\n",
        SHORT,
        {"ok", "error", "timeout"},
    ),
    "multiprocessing": (
        "import multiprocessing as mp\n"
        "def f(x):\n    return x * x\n"
        "try:\n    with mp.get_context('fork').Pool(2) as p:\n        print(p.map(f, range(4)))\n"
        "except Exception as e:\n    print('pool failed:', type(e).__name__, e)\n"
        "q = mp.get_context('fork').Process(target=f, args=(3,))\nq.start(); q.join(); print('process exit', q.exitcode)\n",
        SHORT,
        {"ok", "error"},
    ),
    # --- the host ---
    "read_proc_environ": (
        "import os\nfor p in ['/proc/1/environ', '/proc/self/environ'] + ['/proc/%d/environ' % i for i in range(2, 50)]:\n"
        "    try:\n        print(p, open(p, 'rb').read())\n    except OSError as e:\n        print(p, e)\n"
        "print(sorted(os.listdir('/proc'))[:40])\nprint(dict(os.environ))\n",
        SHORT,
        {"ok"},
    ),
    "read_server_files": (
        "import os, glob\n"
        "for p in ['__CANARY__', '__CANARY2__', '/etc/shadow', '/etc/passwd', '/work/main/pyproject.toml',\n"
        "          '/root/.bash_history', '/work/main/data', '/sys/kernel', '/dev/shm', '/dev/vda']:\n"
        "    try:\n        print(p, open(p).read()[:200])\n    except OSError as e:\n        print(p, e)\n"
        "print(glob.glob('/*'), glob.glob('/work/*'), glob.glob('/root/.pyenv/versions/*'))\n",
        SHORT,
        {"ok"},
    ),
    "write_outside_scratch": (
        "import os, gradtrace\n"
        "targets = ['__CANARY__', '__CANARY2__', '/etc/x', '/usr/x', '/x', os.path.join(os.path.dirname(gradtrace.__file__), 'x.py'), '/dev/x']\n"
        "for p in targets:\n"
        "    try:\n        open(p, 'w').write('pwned')\n        print('WROTE', p)\n    except OSError as e:\n        print(p, e)\n"
        "open('/tmp/fine.txt', 'w').write('scratch is writable')\nprint(open('fine.txt').read())\n",
        SHORT,
        {"ok"},
    ),
    "fill_disk": (
        "n = 0\ntry:\n    with open('/tmp/big', 'wb') as f:\n        while True:\n            f.write(b'x' * 2**20)\n            n += 1\n"
        "except OSError as e:\n    print('stopped after', n, 'MiB:', e)\n"
        "try:\n    for i in range(100000):\n        open('/tmp/f%d' % i, 'w').close()\nexcept OSError as e:\n    print('inodes stopped at', i, e)\n",
        SHORT,
        {"ok"},
    ),
    # --- output ---
    "huge_stdout": ("print('x' * (50 * 2**20))\nwhile True:\n    print('y' * 10000)\n", SHORT, {"timeout", "output_limit", "ok"}),
    "ten_million_nodes": (
        "import torch\nx = torch.ones(1, requires_grad=True)\nfor i in range(10**7):\n    x = x * 1.0001\nx.backward()\n",
        SHORT,
        {"timeout", "ok", "memory_limit"},
    ),
    "deep_recursion_python": (
        "import sys\nsys.setrecursionlimit(10**8)\ndef f(n):\n    return f(n + 1)\nf(0)\n",
        SHORT,
        {"error", "memory_limit", "timeout"},
    ),
    "deep_recursion_c": (
        # __getattr__ recursion goes through C frames: it exhausts the (1 GiB) C stack.
        "import sys\nsys.setrecursionlimit(10**8)\nclass A:\n    def __getattr__(self, n):\n        return getattr(self, n)\nA().x\n",
        SHORT,
        {"error", "memory_limit", "timeout"},
    ),
    "ctypes_segfault": ("import ctypes\nctypes.string_at(0)\n", SHORT, {"error"}),
    "abort": ("import os\nos.abort()\n", SHORT, {"error"}),
    # --- network ---
    "sockets": (
        PROBE_NET
        + "for fam in (socket.AF_INET, socket.AF_INET6, socket.AF_PACKET, socket.AF_NETLINK):\n"
        "    try:\n        socket.socket(fam, socket.SOCK_RAW if fam == socket.AF_PACKET else socket.SOCK_DGRAM).bind(('0.0.0.0', 8080) if fam == socket.AF_INET else ('', 0) if fam != socket.AF_NETLINK else (0, 0))\n        print('BOUND', fam)\n"
        "    except (OSError, TypeError) as e:\n        print('bind blocked:', fam, e)\n"
        "try:\n    print(socket.getaddrinfo('example.com', 80))\nexcept OSError as e:\n    print('dns blocked:', e)\n"
        "u = socket.socket(socket.AF_UNIX)\ntry:\n    u.connect('\\0gradtrace')\nexcept OSError as e:\n    print('abstract unix:', e)\n",
        SHORT,
        {"ok"},
    ),
    # --- code loading ---
    "pickle_torch_load": (
        "import io, os, pickle, torch\n"
        "class Evil:\n    def __reduce__(self):\n"
        "        return (os.system, ('python3 -c \"import socket; socket.create_connection((\\'127.0.0.1\\', __PORT__))\"',))\n"
        "buf = io.BytesIO()\ntorch.save({'w': Evil()}, buf)\n"
        "for weights_only in (True, False):\n    buf.seek(0)\n"
        "    try:\n        print(weights_only, torch.load(buf, weights_only=weights_only))\n"
        "    except Exception as e:\n        print(weights_only, 'refused:', type(e).__name__)\n",
        SHORT,
        {"ok"},
    ),
    "cuda_on_cpu_server": (
        "import torch\nprint(torch.cuda.is_available())\nx = torch.zeros(2, device='cuda')\n",
        SHORT,
        {"error"},
    ),
    # --- the result channel ---
    "garbage_on_every_fd": (
        "import os\nfor fd in range(0, 64):\n    try:\n        os.write(fd, b'\\x00garbage' * 1000)\n    except OSError:\n        pass\n",
        SHORT,
        {"error", "ok"},
    ),
    "forged_oversize_frame": (
        "import os, struct\nfor fd in range(3, 16):\n    try:\n        os.write(fd, struct.pack('!cI', b'R', 2**31))\n    except OSError:\n        pass\n",
        SHORT,
        {"output_limit", "error", "ok"},
    ),
    "forged_invalid_result": (
        "import os, struct\npayload = b'{\"status\": \"ok\", \"torch_version\": 1, \"pwned\": true}'\n"
        "for fd in range(3, 16):\n    try:\n        os.write(fd, struct.pack('!cI', b'R', len(payload)) + payload)\n    except OSError:\n        pass\n",
        SHORT,
        {"error", "ok"},
    ),
    "event_frame_flood": (
        "import os, struct\nframe = struct.pack('!cI', b'E', 60000) + b' ' * 60000\nwhile True:\n    os.write(4, frame)\n",
        SHORT,
        {"output_limit"},
    ),
    "own_itimer_raising_handler": (
        # A handler that raises at any moment, also while the worker writes its frames.
        "import signal\nclass Boom(Exception):\n    pass\n"
        "def boom(*a):\n    raise Boom()\n"
        "signal.signal(signal.SIGVTALRM, boom)\nsignal.setitimer(signal.ITIMER_VIRTUAL, 0.001, 0.001)\n"
        "import torch\nx = torch.ones(3, requires_grad=True)\nfor i in range(200):\n    try:\n        (x * i).sum().backward()\n    except Boom:\n        pass\n",
        SHORT,
        {"ok", "error", "timeout"},
    ),
    "monkeypatched_modules": (
        "import builtins, json, sys, os\n"
        "json.dumps = lambda *a, **k: 'garbage'\njson.loads = lambda *a, **k: None\n"
        "sys.stdout = None\nsys.stderr = None\nbuiltins.print = None\nos.write = lambda *a: 0\n",
        SHORT,
        {"ok", "error"},
    ),
    "close_result_fd_then_spin": (
        "import os\nfor fd in range(3, 64):\n    try:\n        os.close(fd)\n    except OSError:\n        pass\nwhile True:\n    pass\n",
        SHORT,
        {"timeout", "error"},
    ),
    "os_exit": ("import os\nos._exit(0)\n", SHORT, {"error"}),
    # The worker's own "isolation failed" and "tracer crashed" codes, forged: the run's own error.
    "os_exit_layer_code": ("import os\nos._exit(70)\n", SHORT, {"error"}),
    "os_exit_tracer_code": ("import os\nos._exit(71)\n", SHORT, {"error"}),
    "system_exit": ("import sys\nsys.exit(3)\n", SHORT, {"error", "ok"}),
    "keyboard_interrupt": ("raise KeyboardInterrupt\n", SHORT, {"error"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_snippet_is_contained(sandbox: Sandbox, witness: Witness, name: str) -> None:
    template, limits, statuses = CASES[name]
    result = sandbox.run(witness.source(template), **limits)
    assert result["status"] in statuses, (result["status"], result["error"], result["stdout"][-2000:])
    # Only the supervisor may say the sandbox failed (the API answers that with 503).
    assert (result["error"] or {}).get("kind") not in ("sandbox_unavailable", "worker_lost"), result["error"]
    out = result["stdout"]
    assert "CONNECTED" not in out and "WROTE" not in out and "BOUND" not in out, out
    witness.check(result)


@pytest.mark.parametrize(("name", "kind"), [
    ("python_memory_bomb", "out_of_memory"),  # Python's MemoryError: an empty message
    ("bytearray_100gb", "out_of_memory"),
    ("torch_empty_100gb", "out_of_memory"),
    ("system_exit", "snippet_exit"),
])
def test_a_contained_snippet_is_explained(sandbox: Sandbox, name: str, kind: str) -> None:
    template, limits, _ = CASES[name]
    result = sandbox.run(template, **limits)
    error = result["error"]
    assert error is not None and error["kind"] == kind, error
    assert error["explanation"]["title"] != "The snippet raised an exception"


@pytest.mark.parametrize("tail", [
    "class E(Exception):\n    def __str__(self):\n        while True:\n            pass\nraise E()\n",
    "class Loop:\n    def __del__(self):\n        while True:\n            pass\na, b = Loop(), Loop()\na.other, b.other = b, a\ndel a, b\n",
])
def test_snippet_code_that_never_returns_after_the_snippet_ends_keeps_the_graph(sandbox: Sandbox, tail: str) -> None:
    # The tracer runs such code while it makes the document (an exception's __str__, the
    # finalizers of its last collection); stopped at the snippet's deadlines, the graph stays.
    source = "import torch\nx = torch.ones(2, requires_grad=True)\n(x * 3).sum().backward()\n" + tail
    result = sandbox.run(source, **SHORT)
    assert result["status"] in ("ok", "error"), result["error"]
    assert [n["name"] for n in result["nodes"]] == ["torch::autograd::AccumulateGrad", "MulBackward0", "SumBackward0"]
    assert [t["grad"]["values"] for t in result["tensors"] if t["names"] == ["x"]] == [[3.0, 3.0]]
