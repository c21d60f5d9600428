"""Isolating a learner's kernel as far as the platform allows, and saying which isolation was in effect.

``detect()`` looks at the machine once per grading run and returns an ``Isolation``:

- **bubblewrap** (``bwrap``, Linux): the kernel sees ``/`` read-only; ``/tmp``, the homes, the temporary folder,
  the submissions and the results are empty tmpfs; only its own working folder and its connection folder are
  writable; new network, pid, IPC and UTS namespaces (no network at all, so the grader talks to it over ZMQ's
  ``ipc`` transport); an empty environment except what the grader passes; all capabilities dropped; it dies with
  the grader, and everything it started dies with it (the pid namespace ends with the kernel).
- **a cgroup** for memory and processes, so the limit covers the kernel's whole process tree: cgroup v2 where
  the grader's own cgroup delegates ``memory`` and ``pids``, else cgroup v1's ``memory`` and ``pids``
  hierarchies, else ``systemd-run --user --scope``. Leftover processes are killed and the cgroup removed after
  each learner (a run that was killed leaves cgroups named after its dead pid: the next run removes them).
- Otherwise: the kernel runs with today's limits only (an address-space limit per process, a file-size limit,
  its session killed after grading, an environment cleared to what ``PASSED_ENV`` names), and ``detect`` says
  so in ``warnings``.

Run as a script (``python sandbox.py --config FILE -- KERNEL ARGV``), this module is the kernel's launcher: it
joins the cgroup, then replaces itself with bubblewrap (or the kernel). It imports nothing from camlab, so it
runs before any of the learner's code and without loading the package.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "camlab-"
# What the kernel's environment holds besides what the kernelspec sets (everything else is cleared).
PASSED_ENV = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "CAMLAB_DATA_DIR", "TF_CPP_MIN_LOG_LEVEL")
SANDBOX_HOME = "/home/learner"
NOBODY = 65534


@dataclass
class Isolation:
    """Which isolation a grading run used (recorded in results.json)."""

    sandbox: str = "none"              # "bubblewrap" or "none"
    memory: str = "address-space limit per process"  # or "cgroup v2", "cgroup v1", "systemd-run"
    network: str = "shared with the grader"
    processes: str = "the kernel's session killed after each notebook"
    warnings: list = field(default_factory=list)
    bwrap: str | None = None
    cgroup_parents: dict = field(default_factory=dict)  # controller -> parent folder (cgroup v1/v2)

    def describe(self):
        """A JSON-able summary for results.json."""
        info = asdict(self)
        info.pop("bwrap")
        info.pop("cgroup_parents")
        return info


def _own_cgroups(proc_file="/proc/self/cgroup"):
    """``{controller: path}`` of this process (``""`` is the cgroup v2 entry)."""
    found = {}
    try:
        lines = Path(proc_file).read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(",") if parts[1] else [""]:
                found[controller] = parts[2]
    return found


def _writable_dir(path):
    return path.is_dir() and os.access(path, os.W_OK)


def cgroup_parents(root=CGROUP_ROOT, proc_file="/proc/self/cgroup"):
    """``(kind, {controller: parent folder})``: where this process may create a cgroup with memory and pids
    limits, or ``(None, {})``."""
    root = Path(root)
    own = _own_cgroups(proc_file)
    if "" in own:  # cgroup v2: the unified tree is /sys/fs/cgroup itself, or /sys/fs/cgroup/unified (hybrid)
        for tree in (root, root / "unified"):
            base = tree / own[""].lstrip("/")
            try:
                delegated = (base / "cgroup.subtree_control").read_text().split()
            except OSError:
                continue
            if {"memory", "pids"} <= set(delegated) and _writable_dir(base):
                return "cgroup v2", {"memory": base, "pids": base}
    parents = {}
    for controller in ("memory", "pids"):
        base = root / controller / own.get(controller, "/").lstrip("/")
        if controller in own and (base / "cgroup.procs").exists() and _writable_dir(base):
            parents[controller] = base
    if len(parents) == 2:
        return "cgroup v1", parents
    return None, {}


def _systemd_run_works():
    if not shutil.which("systemd-run"):
        return False
    try:
        return subprocess.run(["systemd-run", "--user", "--scope", "--quiet", "true"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _bwrap_works(bwrap):
    """``None`` when bubblewrap can make the sandbox here, else why not (e.g. user namespaces restricted)."""
    try:
        as_nobody = ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)] if os.geteuid() == 0 else []
        done = subprocess.run([bwrap, *_base_args(), *as_nobody, "--", "true"], capture_output=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as error:
        return f"{type(error).__name__}: {error}"
    return None if done.returncode == 0 else (done.stderr.decode(errors="replace").strip() or
                                              f"exit status {done.returncode}")


def detect(mode="auto", root=CGROUP_ROOT, proc_file="/proc/self/cgroup"):
    """What isolation this machine allows. ``mode``: ``"auto"``, ``"bubblewrap"`` (fail if it is not
    available) or ``"none"`` (today's limits only, e.g. inside a container that already isolates)."""
    if mode not in ("auto", "bubblewrap", "none"):
        raise ValueError(f"isolation {mode!r}: choose auto, bubblewrap or none")
    info = Isolation()
    if mode == "none":
        info.warnings.append("isolation switched off (--isolation none): learners' code runs with your "
                             "permissions, under time, memory and file-size limits only")
        return info
    bwrap = shutil.which("bwrap") if sys.platform.startswith("linux") else None
    why = "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)" if not bwrap else None
    if bwrap and why is None:
        failure = _bwrap_works(bwrap)
        if failure:
            why = f"bubblewrap cannot create a sandbox here ({failure[:200]})"
    if why:
        if mode == "bubblewrap":
            raise RuntimeError(f"--isolation bubblewrap: {why}")
        info.warnings.append(f"{why}: learners' code runs with your permissions and can use the network; "
                             f"grade inside a container (see the instructor README) for isolation")
    else:
        info.sandbox, info.bwrap = "bubblewrap", bwrap
        info.network = "none (own network namespace)"
        info.processes = "own pid namespace: every process a notebook starts ends with its kernel"
    kind, parents = cgroup_parents(root, proc_file)
    if kind:
        info.memory, info.cgroup_parents = kind, {k: str(v) for k, v in parents.items()}
    elif sys.platform.startswith("linux") and _systemd_run_works():
        info.memory = "systemd-run"
    else:
        info.warnings.append("no cgroup for memory: the memory limit applies to each process of a kernel, not "
                             "to all of them together")
    return info


# --------------------------------------------------------------------------------------------------------------
# A cgroup per learner's kernels.

def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_pids(procs_files):
    found = set()
    for path in procs_files:
        try:
            found.update(int(p) for p in Path(path).read_text().split())
        except OSError:
            pass
    found.discard(os.getpid())
    return found


def _kill_until_gone(list_pids, rounds=100):
    """SIGKILL every pid ``list_pids()`` gives until it gives none (or ``rounds`` tries went by)."""
    for _ in range(rounds):
        pids = list_pids()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)


def _kill_and_remove(folder):
    """SIGKILL every process in cgroup ``folder`` until it is empty, then remove it."""
    _kill_until_gone(lambda: _read_pids([Path(folder) / "cgroup.procs"]))
    for _ in range(50):
        try:
            Path(folder).rmdir()
            return True
        except FileNotFoundError:
            return True
        except OSError:
            time.sleep(0.02)
    return False


class Cgroup:
    """A cgroup (v1 or v2) limiting memory and the number of processes of one learner's kernels."""

    def __init__(self, parents, memory_mb, pids_max, kind):
        self.kind = kind
        self.name = f"{PREFIX}{os.getpid()}-{next(_counter)}"
        self.folders = {}
        for parent in {str(p) for p in parents.values()}:
            remove_stale(parent)
        for controller, parent in parents.items():
            folder = Path(parent) / self.name
            if str(folder) not in {str(f) for f in self.folders.values()}:
                folder.mkdir()
            self.folders[controller] = folder
        memory, pids = self.folders["memory"], self.folders["pids"]
        if kind == "cgroup v2":
            if memory_mb > 0:
                (memory / "memory.max").write_text(str(memory_mb * 2**20))
                _try_write(memory / "memory.swap.max", "0")
            (pids / "pids.max").write_text(str(pids_max))
        else:
            if memory_mb > 0:
                (memory / "memory.limit_in_bytes").write_text(str(memory_mb * 2**20))
                _try_write(memory / "memory.memsw.limit_in_bytes", str(memory_mb * 2**20))
            (pids / "pids.max").write_text(str(pids_max))

    def procs_files(self):
        return sorted({str(folder / "cgroup.procs") for folder in self.folders.values()})

    def pids(self):
        return _read_pids(self.procs_files())

    def oom_kills(self):
        """How many processes the kernel's out-of-memory killer ended in this cgroup."""
        return oom_kills([self.kind, str(self.folders["memory"])])

    def kill(self):
        """SIGKILL whatever is still running in the cgroup (the cgroup stays)."""
        _kill_until_gone(self.pids)

    def remove(self):
        self.kill()
        for folder in {str(f) for f in self.folders.values()}:
            _kill_and_remove(folder)


def oom_kills(memory):
    """Out-of-memory kills so far in the memory cgroup ``memory`` = ``[kind, folder]`` (0 without one)."""
    if not memory:
        return 0
    kind, folder = memory
    name = "memory.events" if kind == "cgroup v2" else "memory.oom_control"
    try:
        for line in (Path(folder) / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _try_write(path, text):
    try:
        Path(path).write_text(text)
    except OSError:
        pass


def _counter_gen():
    number = 0
    while True:
        number += 1
        yield number


_counter = _counter_gen()


def remove_stale(parent):
    """Remove the cgroups a killed grading run left in ``parent`` (named after a grader pid that is gone)."""
    removed = []
    for folder in Path(parent).glob(PREFIX + "*"):
        try:
            pid = int(folder.name[len(PREFIX):].split("-")[0])
        except ValueError:
            continue
        if folder.is_dir() and not _alive(pid) and _kill_and_remove(folder):
            removed.append(folder)
    return removed


def _session_members(sid):
    """Processes in session ``sid`` (Linux's /proc; empty elsewhere)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and fields[0] != "Z" and int(fields[3]) == sid and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def end_leftovers(cgroup_procs, kernel_pid, spare=()):
    """After a kernel is shut down: kill what it left running, from its cgroup (``cgroup_procs`` files) or,
    without one, its session (the kernel was started as a session leader; a process that left the session
    with setsid is out of reach then: only a cgroup or the sandbox's pid namespace catch it). ``spare``: the
    pids of the warm kernels' template (``zygote``), which lives in the same cgroup."""
    def leftovers():
        pids = _read_pids(cgroup_procs) - set(spare)
        if kernel_pid and not cgroup_procs:
            pids.update(_session_members(kernel_pid))
            try:
                os.killpg(kernel_pid, signal.SIGKILL)
            except OSError:
                pass
        return pids

    _kill_until_gone(leftovers)


TEMP_KINDS = ("kernels", "connection", "grade")


def temp_prefix(kind):
    """The prefix of the grader's temporary folders of ``kind``: it names this process, so that a later run can
    tell the folders of a killed run (``remove_stale_folders``)."""
    return f"{PREFIX}{kind}-{os.getpid()}-"


def remove_stale_folders(parent=None):
    """Remove the temporary folders that a killed grading run left in ``parent`` (default: the temp folder)."""
    removed = []
    for kind in TEMP_KINDS:
        for folder in Path(parent or tempfile.gettempdir()).glob(f"{PREFIX}{kind}-*-*"):
            pid = folder.name[len(PREFIX) + len(kind) + 1:].split("-")[0]
            if pid.isdigit() and folder.is_dir() and not folder.is_symlink() and not _alive(int(pid)):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return sorted(removed)


def make_cgroup(isolation, memory_mb, pids_max):
    """A ``Cgroup`` for one learner's kernels when ``isolation`` has cgroups, else None."""
    if isolation.memory in ("cgroup v1", "cgroup v2"):
        return Cgroup(isolation.cgroup_parents, memory_mb, pids_max, isolation.memory)
    return None


# --------------------------------------------------------------------------------------------------------------
# The kernel's command line.

def _base_args():
    return ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent",
            "--new-session", "--cap-drop", "ALL"]


def _python_dirs():
    """The folders this Python needs to import camlab, its dependencies and itself (not the grader's script
    folder or working folder, which ``sys.path`` may also hold)."""
    import site

    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable)),
            str(Path(__file__).resolve().parents[2]), *site.getsitepackages(), site.getusersitepackages()}
    dirs.update(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
    return sorted({str(Path(d).resolve()) for d in dirs if os.path.isabs(d) and os.path.isdir(d)})


def _inside(path, folder):
    folder = str(Path(folder).resolve())
    return path == folder or path.startswith(folder + os.sep)


def sandbox_config(isolation, hide=(), env=None, cgroup=None, memory_mb=0, pids_max=0):
    """What the launcher needs, as JSON-able data: written next to the kernelspec, read by ``launch``."""
    home = str(Path.home())
    hidden = {"/tmp", "/var/tmp", "/home", "/root", home, tempfile.gettempdir(), *map(str, hide)}
    files = sorted({str(Path(p).resolve()) for p in hide if os.path.isfile(p)})
    hidden = sorted({str(Path(p).resolve()) for p in hidden if os.path.isdir(p)})
    passed = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    passed.update(env or {})
    return {
        "bwrap": isolation.bwrap if isolation.sandbox == "bubblewrap" else None,
        "hide": hidden,
        "hide_files": files,
        "keep": [d for d in _python_dirs() if any(d.startswith(h + os.sep) for h in hidden)
                 and not any(_inside(d, p) for p in hide)],
        "env": passed,
        "cgroup_procs": cgroup.procs_files() if cgroup else [],
        "systemd_run": ({"memory_mb": memory_mb, "pids_max": pids_max}
                        if isolation.memory == "systemd-run" else None),
        "as_nobody": os.geteuid() == 0 if hasattr(os, "geteuid") else False,
    }


def bwrap_argv(config, connection_file, cwd, writable=None):
    """bubblewrap's command line for a kernel whose connection file is ``connection_file``, run in ``cwd``
    (``writable``: the folders it may write, instead of the ones derived from those two)."""
    argv = [config["bwrap"], *_base_args()]
    for folder in config["hide"]:
        if folder != "/tmp":
            argv += ["--tmpfs", folder]
    for path in config.get("hide_files", []):
        argv += ["--ro-bind", "/dev/null", path]
    for folder in config["keep"]:
        argv += ["--ro-bind", folder, folder]
    argv += ["--dir", SANDBOX_HOME]
    # the writable area: the folder the grader made for this notebook (its working folder and the folder the
    # answers travel through), else only the working folder
    own = Path(cwd).parent if Path(cwd).parent.name.startswith(PREFIX + "grade-") else Path(cwd)
    if writable is None:
        writable = [str(Path(connection_file).parent), str(own)]
    for folder in sorted(set(map(str, writable))):
        argv += ["--bind", folder, folder]
    argv += ["--chdir", str(cwd), "--clearenv"]
    for name, value in sorted({**config["env"], "HOME": SANDBOX_HOME}.items()):
        argv += ["--setenv", name, value]
    if config.get("as_nobody"):
        argv += ["--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    return argv + ["--"]


def kernel_argv(config_path, inner):
    """The kernelspec's argv: this file as the launcher, then the kernel's own command (with -f ...)."""
    return [sys.executable, os.path.abspath(__file__), "--config", str(config_path), "--", *inner]


def launch(argv):
    """The launcher: join the cgroup, then replace this process with bubblewrap running the kernel."""
    if len(argv) < 4 or argv[0] != "--config" or argv[2] != "--":
        sys.exit("usage: sandbox.py --config FILE -- KERNEL ARGV... -f CONNECTION_FILE")
    config = json.loads(Path(argv[1]).read_text())
    inner = argv[3:]
    for path in config["cgroup_procs"]:
        Path(path).write_text(str(os.getpid()))  # before anything else runs: all children inherit it
    env = {k: v for k, v in os.environ.items() if not k.startswith("JPY_")}  # ipykernel exits on JPY_PARENT_PID
    if config["bwrap"] and config.get("writable"):  # the warm kernels' template (``zygote``)
        inner = bwrap_argv(config, None, os.getcwd(), writable=config["writable"]) + inner
    elif config["bwrap"]:  # (bubblewrap clears the kernel's environment itself; systemd-run needs this one)
        connection_file = inner[inner.index("-f") + 1]
        inner = bwrap_argv(config, connection_file, os.getcwd()) + inner
    else:
        env = {**{k: v for k, v in env.items() if k in (*PASSED_ENV, "HOME")}, **config.get("env", {})}
    if config.get("systemd_run"):
        limits = config["systemd_run"]
        inner = ["systemd-run", "--user", "--scope", "--quiet", "-p", f"MemoryMax={limits['memory_mb']}M",
                 "-p", "MemorySwapMax=0", "-p", f"TasksMax={limits['pids_max']}", "--", *inner]
    os.execvpe(inner[0], inner, env)


if __name__ == "__main__":
    launch(sys.argv[1:])
