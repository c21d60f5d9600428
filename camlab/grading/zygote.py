"""Warm kernels: a per-learner template process that imports the heavy modules once, then forks one kernel per notebook.

A fresh kernel spends most of a short notebook importing TensorFlow. Under bubblewrap, ``Zygote`` (the grader's
side) starts one *template* per learner inside that learner's sandbox: it applies the kernel's limits, imports
``PRELOAD`` (TensorFlow, Keras, NumPy, Matplotlib with Agg, camlab, ipykernel) and waits. For each notebook the
kernelspec's launcher is this file's ``proxy``: jupyter_client starts it as if it were the kernel; it asks the
template for a kernel and lives exactly as long as that kernel does:

- the template forks a child, which becomes the IPython kernel (``kernelapp.launch_new_instance``) with the
  notebook's connection file, in the notebook's working folder, with the sandbox's environment: a fresh fork of
  the template for every notebook, never a reused kernel;
- the kernel exits -> the template tells the proxy, which exits with the kernel's status (a dead kernel is seen);
- the proxy is killed (jupyter_client's shutdown, or a crashed grader) -> the template kills the kernel;
- either way the template then kills every other process in the sandbox's pid namespace (whatever the notebook
  started) and empties the sandbox's scratch folders (/tmp, the home, /dev/shm), and ``Zygote.clean`` waits
  for that before the next notebook: nothing a notebook starts outlives its grading.

The template is not dumpable (its kernels cannot ptrace it); a kernel can still kill it (same user), which ends
that learner's sandbox: the next notebook then gets a new template, or a fresh kernel. Only the learner's own
notebooks ever share a template, so the most a kernel can do to it is spoil that learner's own later notebooks,
whose verdicts the grader still decides against its own reference answers.

Run as a script: ``zygote.py serve FD MEMORY_MB FILE_MB FOLDERS_JSON`` (the template, inside the sandbox, FD: its
listening socket) or ``zygote.py proxy SOCKET -f CONNECTION_FILE`` (the launcher). Only the standard library is
imported at the top: the proxy must start in milliseconds.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PRELOAD = ("numpy", "matplotlib", "matplotlib.pyplot", "tensorflow", "keras", "cv2", "camlab", "camlab.boxes",
           "camlab.cam", "camlab.data", "camlab.evaluation", "camlab.metrics", "camlab.models", "camlab.viz",
           "camlab.exercises.core", "camlab.grading.transport", "ipykernel.kernelapp")
_PR_SET_DUMPABLE = 4


def _prctl_dumpable(flag):
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, int(flag), 0, 0, 0)
    except Exception:  # not Linux: nothing to set
        pass


def _send(conn, message):
    conn.sendall((json.dumps(message) + "\n").encode())


def _receive(conn, timeout=None):
    """One JSON line from ``conn`` (None at EOF)."""
    conn.settimeout(timeout)
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 2**20:
            return None
    return json.loads(data)


# --------------------------------------------------------------------------------------------------------------
# The template (inside the sandbox).

def set_limits(memory_mb, file_mb):
    """The kernel's resource limits (the same as ``kernels._LAUNCHER`` sets for a fresh kernel)."""
    import resource

    for name, mb in (("RLIMIT_AS", memory_mb), ("RLIMIT_FSIZE", file_mb)):
        if mb > 0:
            which = getattr(resource, name)
            hard = resource.getrlimit(which)[1]
            limit = mb * 1024 * 1024 if hard == resource.RLIM_INFINITY else min(mb * 1024 * 1024, hard)
            resource.setrlimit(which, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _others():
    """Processes of this pid namespace other than its init (1) and this template."""
    mine = {1, os.getpid()}
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in mine:
            try:
                state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z":
                found.append(int(entry))
    return found


def _reap():
    """Collect the exit status of every child that ended: ``{pid: status}``."""
    ended = {}
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return ended
        if pid == 0:
            return ended
        ended[pid] = os.waitstatus_to_exitcode(status)


def _clean(scratch, keep=()):
    """Kill every process of the namespace but the template; empty the ``scratch`` folders (sparing the
    folders in ``keep``, the grader's bound folders, and whatever leads to them)."""
    import shutil

    for _ in range(250):
        _reap()
        pids = _others()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)
    for folder in scratch:
        try:
            entries = list(Path(folder).iterdir())
        except OSError:
            continue
        for entry in entries:
            if any(k == str(entry) or k.startswith(str(entry) + os.sep) for k in keep):
                continue
            try:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink()
            except OSError:
                pass
    return not _others()


def _become_kernel(selector, listener, conn, request):
    """In the forked child: become the notebook's IPython kernel; never returns."""
    status = 1
    try:
        selector.close()
        listener.close()
        conn.close()
        os.setsid()
        _prctl_dumpable(1)  # its own /proc entries must stay its own
        try:
            Path("/proc/self/oom_score_adj").write_text("500")  # the out-of-memory killer takes it, not the template
        except OSError:
            pass
        os.chdir(request["cwd"])
        import numpy

        numpy.random.seed()  # a fresh kernel's global NumPy generator starts from fresh entropy, so does this one
        sys.argv = ["-c", "-f", request["connection_file"]]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance(argv=["-f", request["connection_file"]])
        status = 0
    except SystemExit as done:
        status = done.code if isinstance(done.code, int) else 0
    except BaseException:  # the kernel could not start: its proxy reports the exit (stderr: for debugging)
        import traceback

        traceback.print_exc()
        status = 1
    finally:
        os._exit(status)


def serve(listen_fd, memory_mb, file_mb, folders):
    """The template's loop: one kernel at a time, on request; ``clean`` and ``ping`` for the grader.
    ``folders``: ``{"scratch": [...], "keep": [...]}`` (see ``_clean``)."""
    import importlib
    import selectors

    sys.path[0] = ""  # as `python -c` has it (a fresh kernel's launcher): the working folder, not this file's
    scratch, keep = folders["scratch"], folders["keep"]
    set_limits(memory_mb, file_mb)
    _prctl_dumpable(0)
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # a missing optional module only costs the notebook its own import
            pass
    listener = socket.socket(fileno=listen_fd)
    listener.setblocking(True)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    child = None  # (pid, the proxy's connection)

    def end_child(status):
        """The kernel ended (``status``, as ``waitstatus_to_exitcode`` gives it): tell its proxy."""
        nonlocal child
        try:
            _send(child[1], {"exit": status})
        except OSError:
            pass
        selector.unregister(child[1])
        child[1].close()
        child = None

    while True:
        events = selector.select(timeout=0.05)
        ended = _reap()
        if child and child[0] in ended:
            end_child(ended[child[0]])
            _clean(scratch, keep)
        for key, _ in events:
            if key.fileobj is listener:
                conn, _ = listener.accept()
                try:
                    request = _receive(conn, timeout=10)
                except (OSError, ValueError):
                    request = None
                if not isinstance(request, dict):
                    conn.close()
                elif request.get("op") == "ping":
                    _send(conn, {"pid": os.getpid()})
                    conn.close()
                elif request.get("op") == "clean":
                    if child:
                        try:
                            os.kill(child[0], signal.SIGKILL)
                        except OSError:
                            pass
                    clean = _clean(scratch, keep)  # (this reaps the kernel too)
                    if child:
                        end_child(-signal.SIGKILL)
                    _send(conn, {"clean": clean})
                    conn.close()
                elif request.get("op") == "fork" and child is None:
                    _clean(scratch, keep)  # a pristine sandbox for every notebook
                    pid = os.fork()
                    if pid == 0:
                        _become_kernel(selector, listener, conn, request)
                    child = (pid, conn)
                    _send(conn, {"pid": pid})
                    conn.setblocking(False)
                    selector.register(conn, selectors.EVENT_READ)
                else:
                    _send(conn, {"error": "the template serves one kernel at a time"})
                    conn.close()
            elif child and key.fileobj is child[1]:
                try:
                    data = child[1].recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:  # the proxy is gone (shut down or killed): so is its kernel
                    try:
                        os.kill(child[0], signal.SIGKILL)
                    except OSError:
                        pass


# --------------------------------------------------------------------------------------------------------------
# The proxy (the kernelspec's launcher, outside the sandbox).

def proxy(socket_path, argv):
    """Ask the template for a kernel for ``-f CONNECTION_FILE`` in ``argv``; live as long as it does."""
    connection_file = argv[argv.index("-f") + 1]
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(socket_path)
        _send(conn, {"op": "fork", "connection_file": connection_file, "cwd": os.getcwd()})
        reply = _receive(conn, timeout=300)
    except (OSError, ValueError) as error:
        sys.exit(f"camlab: no kernel from the template ({error})")
    if not reply or "pid" not in reply:
        sys.exit(f"camlab: no kernel from the template ({reply})")
    try:
        done = _receive(conn)
    except (OSError, ValueError):
        done = None
    code = done.get("exit") if isinstance(done, dict) else None
    if not isinstance(code, int):
        code = 1
    sys.exit(code if code >= 0 else 128 - code)  # killed by signal N: 128 + N, as a shell says


def proxy_argv(socket_path):
    """The kernelspec's argv for warm kernels from the template listening at ``socket_path``."""
    return [sys.executable, os.path.abspath(__file__), "proxy", str(socket_path), "-f", "{connection_file}"]


# --------------------------------------------------------------------------------------------------------------
# The grader's side.

class Zygote:
    """One learner's template: ``start()`` it in the sandbox; ``ready()`` waits until it can fork kernels;
    ``clean()`` after each notebook; ``stop()`` at the end. ``pids`` are its processes as the grader sees them
    (the sandbox's and its own), which cleaning a cgroup must spare."""

    def __init__(self, folder, cwd, sandbox_argv, memory_mb, file_mb, scratch, keep):
        self.folder, self.cwd = Path(folder), Path(cwd)  # its socket's folder (hidden in the sandbox); its cwd
        self.socket_path = str(self.folder / "template.sock")
        self.sandbox_argv = sandbox_argv  # (argv) -> the sandbox launcher's argv around argv
        self.memory_mb, self.file_mb = memory_mb, file_mb
        self.folders = {"scratch": list(map(str, scratch)), "keep": list(map(str, keep))}
        self.process = None
        self.pids = set()
        self.failure = None

    def start(self):
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.socket_path)
        listener.listen(4)
        try:
            inner = [sys.executable, os.path.abspath(__file__), "serve", str(listener.fileno()),
                     str(int(self.memory_mb)), str(int(self.file_mb)), json.dumps(self.folders)]
            self.process = subprocess.Popen(self.sandbox_argv(inner), pass_fds=[listener.fileno()],
                                            cwd=str(self.cwd), stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            start_new_session=True)
        finally:
            listener.close()
        self.failure = None
        return self

    def _ask(self, message, timeout):
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.settimeout(timeout)
            conn.connect(self.socket_path)
            _send(conn, message)
            return _receive(conn, timeout=timeout)
        finally:
            conn.close()

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def ready(self, timeout=180, own_pids=lambda: set()):
        """Whether the template answers (it has imported ``PRELOAD``); ``own_pids()`` lists its processes."""
        if not self.alive():
            self.failure = self.failure or "the template is not running"
            return False
        try:
            reply = self._ask({"op": "ping"}, timeout)
        except (OSError, ValueError) as error:
            reply, self.failure = None, f"the template did not answer ({type(error).__name__}: {error})"
        if not (isinstance(reply, dict) and "pid" in reply):
            self.failure = self.failure or f"the template did not start (exit status {self.process.poll()})"
            self.stop()
            return False
        self.pids = set(own_pids())
        return True

    def clean(self, timeout=30):
        """Kill whatever the last notebook left in the sandbox; False (and the template is stopped) when the
        template does not confirm it."""
        try:
            reply = self._ask({"op": "clean"}, timeout)
        except (OSError, ValueError):
            reply = None
        if isinstance(reply, dict) and reply.get("clean"):
            return True
        self.failure = "the template did not clean up after a notebook"
        self.stop()
        return False

    def stop(self):
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5]))
    elif sys.argv[1:2] == ["proxy"] and len(sys.argv) >= 5:
        proxy(sys.argv[2], sys.argv[3:])
    else:
        sys.exit("usage: zygote.py serve FD MEMORY_MB FILE_MB FOLDERS_JSON | zygote.py proxy SOCKET -f FILE")
