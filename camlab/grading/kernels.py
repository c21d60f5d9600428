"""Kernels under limits: the kernelspec launcher, and running a learner's notebook in such a kernel.

``write_kernelspec`` writes a kernelspec for THIS Python's IPython kernel whose launcher sets resource limits
before the kernel starts (``camlab execute`` uses it without limits). ``run_in_kernel`` runs a notebook's cells
with a per-cell and a per-notebook time limit and capped output, then hands the live kernel to the caller
(``after(execute)``), which runs its own code in it. Nothing here decides a verdict.
"""
from __future__ import annotations

import atexit
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat

from camlab.grading import sandbox
from camlab.grading.text import clip

KERNEL_NAME = "camlab-grader"


@dataclass
class Limits:
    """What one notebook may use. Seconds, megabytes, characters."""

    cell_timeout: int = 120
    timeout: int = 1800
    memory_mb: int = 8192
    file_mb: int = 1024
    output_chars: int = 100_000
    message_chars: int = 1000
    processes: int = 512  # processes and threads of one kernel together (where a cgroup is available)
    message_mb: int = 32  # a bigger message from the kernel is dropped before it reaches the grader's memory


# A kernel's launcher: resource limits first (inherited by anything the kernel starts), then the IPython kernel.
_LAUNCHER = """\
import resource, sys
for _name, _mb in (("RLIMIT_AS", int(sys.argv.pop(1))), ("RLIMIT_FSIZE", int(sys.argv.pop(1)))):
    if _mb > 0:
        _which = getattr(resource, _name)
        _hard = resource.getrlimit(_which)[1]
        _limit = _mb * 1024 * 1024 if _hard == resource.RLIM_INFINITY else min(_mb * 1024 * 1024, _hard)
        resource.setrlimit(_which, (_limit, _limit))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""


def write_kernelspec(folder, name, memory_mb=0, file_mb=0, env=None, wrap=None, metadata=None, argv=None):
    """Write kernelspec ``folder/name`` for THIS Python's IPython kernel (whatever kernels are installed elsewhere).

    ``memory_mb`` limits the kernel's address space (``RLIMIT_AS``: a bigger allocation raises MemoryError) and
    ``file_mb`` the size of any file it writes (``RLIMIT_FSIZE``); 0 means no limit. Returns ``folder``, to give to
    ``jupyter_client.kernelspec.KernelSpecManager(kernel_dirs=[folder])``. ``wrap(argv)`` gives the command
    that launches the kernel's ``argv`` (the sandbox's launcher); ``metadata`` goes into the kernelspec.
    ``argv``: another launcher (the warm kernels' proxy, ``zygote.proxy_argv``), whose kernel takes its
    interrupts by message too.
    """
    spec_dir = Path(folder) / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    own = argv is None
    if own:
        argv = [sys.executable, "-c", _LAUNCHER, str(int(memory_mb)), str(int(file_mb)), "-f", "{connection_file}"]
    spec = {
        "argv": wrap(argv) if wrap else argv,
        "display_name": f"camlab ({name})",
        "language": "python",
        "env": {"TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        "metadata": metadata or {},
    }
    if wrap or not own:  # a signal would reach the launcher (bubblewrap, the proxy), not the kernel: interrupt
        # by a control message
        spec["interrupt_mode"] = "message"
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1))
    return Path(folder)


GRADER_ENV = {"MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}


def grader_kernelspec(folder, limits, isolation=None, cgroup=None, hide=()):
    """The grader's kernelspec (``KERNEL_NAME``) under ``limits``; returns the kernels folder.

    With an ``isolation`` (``sandbox.detect()``) the kernel starts through the sandbox's launcher: in
    ``cgroup``, under bubblewrap where available (talking over ZMQ's ipc transport), with ``hide`` (the
    submissions, the results) out of its sight. Its settings sit next to the kernelspec, never inside the sandbox.
    """
    if isolation is None:
        return write_kernelspec(folder, KERNEL_NAME, memory_mb=limits.memory_mb, file_mb=limits.file_mb,
                                env=GRADER_ENV)
    config = sandbox.sandbox_config(isolation, hide=hide, env={"TF_CPP_MIN_LOG_LEVEL": "2", **GRADER_ENV},
                                    cgroup=cgroup, memory_mb=limits.memory_mb, pids_max=limits.processes)
    config_path = Path(folder) / "sandbox.json"
    config_path.write_text(json.dumps(config, indent=1))
    metadata = {"camlab": {"transport": "ipc" if config["bwrap"] else "tcp",
                           "cgroup_procs": cgroup.procs_files() if cgroup else [],
                           "cgroup_memory": [cgroup.kind, str(cgroup.folders["memory"])] if cgroup else None}}
    return write_kernelspec(folder, KERNEL_NAME, memory_mb=limits.memory_mb, file_mb=limits.file_mb,
                            env=GRADER_ENV, wrap=lambda argv: sandbox.kernel_argv(config_path, argv),
                            metadata=metadata)


WARM_KERNEL_NAME = KERNEL_NAME + "-warm"


class Kernels:
    """One learner's kernels: the kernelspecs folder, the folder their notebooks' working folders go in
    (``root``), and, under bubblewrap, the warm kernels' template (``zygote.Zygote``).

    ``choose()`` names the kernelspec for the next notebook: the warm one while the template is ready
    (restarted once if it died or stopped answering), else the fresh one; ``why_fresh`` says why the warm one
    was not used."""

    def __init__(self, folder, root=None, zygote=None, why_fresh=None, cgroup=None, restarts=1):
        self.folder, self.root, self.zygote, self.cgroup = Path(folder), root, zygote, cgroup
        self.why_fresh = why_fresh
        self.restarts = restarts
        self._ready = self._stale = False

    def __fspath__(self):  # (where a kernels folder was expected)
        return str(self.folder)

    def choose(self, work_dir=None):
        """``(kernel name, "warm" or "fresh")`` for the next notebook, run in ``work_dir`` (a warm kernel only
        sees the working folders under ``root``)."""
        if self.zygote is None:
            return KERNEL_NAME, "fresh"
        if work_dir is not None and self.root is not None and \
                Path(self.root).resolve() not in Path(work_dir).resolve().parents:
            return KERNEL_NAME, "fresh"
        if self._ready and not self.zygote.alive():  # it died between notebooks (out of memory?)
            self._ready, self._stale = False, True
        if self._stale:
            if self.restarts <= 0:
                self.give_up(self.zygote.failure or "the template stopped twice")
                return KERNEL_NAME, "fresh"
            self.restarts -= 1
            self.zygote.stop()
            self.zygote.start()
            self._stale = False
        if not self._ready:
            self._ready = self.zygote.ready(own_pids=self.cgroup.pids if self.cgroup else set)
            if not self._ready:
                self.give_up(self.zygote.failure)
                return KERNEL_NAME, "fresh"
        return WARM_KERNEL_NAME, "warm"

    def give_up(self, why):
        """Fresh kernels from now on (``why``)."""
        if self.zygote is not None:
            self.zygote.stop()
        self.zygote, self.why_fresh = None, why or "the template failed"

    def after_kernel(self, kind):
        """After a notebook's kernel was shut down: the template ends what the notebook left in the sandbox.
        Returns the pids that cleaning the cgroup must spare (the template's)."""
        if self.zygote is None or not self._ready:
            return set()
        if not self.zygote.clean():  # (a kernel killed it?) its sandbox is ended; the next notebook restarts it
            self._ready, self._stale = False, True
            return set()
        return set(self.zygote.pids)

    def stop(self):
        if self.zygote is not None:
            self.zygote.stop()


def as_kernels(kernels):
    """A ``Kernels`` for a kernels folder (fresh kernels only) or a ``Kernels`` as it is."""
    return kernels if isinstance(kernels, Kernels) else Kernels(kernels)


def _warm_kernels(folder, root, limits, isolation, cgroup, hide):
    """Start the template in the learner's sandbox and write the warm kernelspec; ``(zygote, None)`` or
    ``(None, why not)``."""
    from camlab.grading import zygote

    if isolation is None or isolation.sandbox != "bubblewrap":
        return None, ("warm kernels need bubblewrap (its own pid namespace ends whatever a notebook starts); "
                      "fresh kernels were used")
    config = sandbox.sandbox_config(isolation, hide=hide, env={"TF_CPP_MIN_LOG_LEVEL": "2", **GRADER_ENV},
                                    cgroup=cgroup, memory_mb=limits.memory_mb, pids_max=limits.processes)
    config["writable"] = [str(root)]
    config_path = Path(folder) / "template.json"
    config_path.write_text(json.dumps(config, indent=1))
    scratch = sorted({*config["hide"], sandbox.SANDBOX_HOME, "/dev/shm"})
    template = zygote.Zygote(folder, root, lambda inner: sandbox.kernel_argv(config_path, inner),
                             limits.memory_mb, limits.file_mb, scratch=scratch,
                             keep=[str(root), sandbox.SANDBOX_HOME, *config["keep"]])
    try:
        template.start()
    except OSError as error:
        return None, f"the template could not start ({error}); fresh kernels were used"
    metadata = {"camlab": {"transport": "ipc", "warm": True,
                           "cgroup_procs": cgroup.procs_files() if cgroup else [],
                           "cgroup_memory": [cgroup.kind, str(cgroup.folders["memory"])] if cgroup else None}}
    write_kernelspec(folder, WARM_KERNEL_NAME, env=GRADER_ENV, metadata=metadata,
                     argv=zygote.proxy_argv(template.socket_path))
    return template, None


@contextmanager
def grader_kernels(limits, isolation=None, hide=(), warm=True):
    """One learner's ``Kernels``: a kernels folder with the grader's kernelspec (and, with ``isolation``, a
    cgroup for its kernels); with ``warm`` and bubblewrap, also the warm kernels' template. Removes the
    folders and the cgroup at the end (killing what is left)."""
    folder = Path(tempfile.mkdtemp(prefix=sandbox.temp_prefix("kernels")))
    root = Path(tempfile.mkdtemp(prefix=sandbox.temp_prefix("grade")))
    cgroup = kernels = None
    try:
        if isolation is not None:
            cgroup = sandbox.make_cgroup(isolation, limits.memory_mb, limits.processes)
        grader_kernelspec(folder, limits, isolation, cgroup, hide)
        template, why = (None, "switched off") if not warm else _warm_kernels(folder, root, limits, isolation,
                                                                               cgroup, hide)
        kernels = Kernels(folder, root, template, why, cgroup)
        yield kernels
    finally:
        if kernels is not None:
            kernels.stop()
        if cgroup is not None:
            cgroup.remove()
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)


def _client_class():
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):
        """nbclient's client keeping at most ``output_chars`` characters of output per cell."""

        output_chars = 100_000

        def output(self, outs, msg, display_id, cell_index):
            kept = getattr(self, "_kept", {})
            self._kept = kept
            size = len(json.dumps(msg.get("content", {}), default=str))
            if kept.get(cell_index, 0) + size > self.output_chars:
                self.truncated_cells.add(cell_index)
                return None
            kept[cell_index] = kept.get(cell_index, 0) + size
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


def _kernel_manager(kernels, limits, name=KERNEL_NAME):
    """``(kernel manager, its connection folder)`` for kernelspec ``name`` of ``kernels`` (a ``Kernels``).

    A sandboxed kernel has no network: it talks over ZMQ's ipc transport, through sockets in a private folder
    (the only folder besides its working folder that the sandbox lets it write). Messages bigger than
    ``limits.message_mb`` are dropped by ZMQ before they are read into the grader's memory.
    """
    import zmq
    import zmq.asyncio
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    class CappedManager(AsyncKernelManager):
        def client(self, **kwargs):
            return super().client(context=self.context, **kwargs)

    context = zmq.asyncio.Context()
    context.setsockopt(zmq.MAXMSGSIZE, limits.message_mb * 2**20)
    km = CappedManager(kernel_name=name, context=context,
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels.folder)]))
    connection_dir = Path(tempfile.mkdtemp(prefix=sandbox.temp_prefix("connection"), dir=kernels.root))
    km.connection_file = str(connection_dir / "kernel.json")
    if km.kernel_spec.metadata.get("camlab", {}).get("transport") == "ipc":
        km.transport, km.ip = "ipc", str(connection_dir / "zmq")
    return km, connection_dir


def cell_error_text(cell, limit):
    """The error a cell ended with, or why nothing came back."""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            return clip(f"{output.get('ename')}: {output.get('evalue')}", limit)
    return "no answer came back (time limit, or the kernel stopped)"


async def run_in_kernel(nb, limits, kernels, work_dir, after, skip=()):
    """Run ``nb``'s code cells in a new limited kernel (cwd ``work_dir``), then ``await after(execute)``.

    ``kernels``: a ``Kernels`` (``grader_kernels``) or a kernels folder. The kernel is a warm one (a fresh
    fork of the learner's template) when ``kernels`` has a ready template, else a fresh one; a warm kernel
    that fails to start is replaced by a fresh one. ``skip``: indices of cells not to run (the grader's own
    choice, ``locked.skipped_cells``). ``execute(source)`` runs one more cell in the same kernel (per-cell time
    limit) and returns ``(cell, timed_out)``. Returns ``(problems, errors in the learner's cells, info)``,
    ``info = {"kernel": "warm" | "fresh", ...}``; ``nb`` is left as given. A dead kernel, a failed start or an
    exception in ``after`` become problems, never an exception.
    """
    kernels = as_kernels(kernels)
    name, kind = kernels.choose(work_dir)
    problems, errors, started, timing = await _run_once(nb, limits, kernels, name, kind, work_dir, after, set(skip))
    if kind == "warm" and not started:
        kernels.give_up(f"a warm kernel did not start ({'; '.join(problems)})")
        kind = "fresh"
        problems, errors, started, timing = await _run_once(nb, limits, kernels, KERNEL_NAME, kind, work_dir,
                                                            after, set(skip))
    info = {"kernel": kind, **timing}
    if kind == "fresh" and kernels.why_fresh:
        info["why_fresh"] = kernels.why_fresh
    return problems, errors, info


def _drop_watch(client):
    """Monitors on the client's iopub and shell sockets: ZMQ disconnects a peer that sends a message bigger
    than MAXMSGSIZE (the message is lost), and the monitor sees that disconnect. Returns ``dropped()``: how
    many such disconnects happened since the last call; and ``close()``."""
    import zmq
    from zmq.utils.monitor import parse_monitor_message

    monitors, owned = [], []
    for channel in (client.kc.iopub_channel, client.kc.shell_channel):
        try:
            monitor = channel.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
            owned.append((channel.socket, monitor))
            monitors.append(zmq.Socket.shadow(monitor.underlying))
        except Exception:  # no monitor: no report
            pass

    def close():
        for socket, monitor in owned:
            try:
                socket.disable_monitor()
            except Exception:  # the socket is closed already
                pass
            monitor.close(linger=0)

    def dropped():
        count = 0
        for monitor in monitors:
            while monitor.poll(0):
                event = parse_monitor_message(monitor.recv_multipart())
                count += event["event"] == zmq.EVENT_DISCONNECTED
        return count

    return dropped, close


async def _run_once(nb, limits, kernels, name, kind, work_dir, after, skip):
    from nbclient.exceptions import DeadKernelError

    problems, errors = [], []
    learner_cells = len(nb.cells)
    state = {"timeout": limits.cell_timeout, "timed_out": set(), "cut": False}

    def on_cell_error(cell, cell_index, execute_reply):
        content = execute_reply.get("content", {})
        if content.get("ename") == "CamlabTimeLimit":
            state["timed_out"].add(cell_index)
            text = (f"stopped: the notebook's time limit ({limits.timeout} s) was reached" if state["cut"] else
                    f"stopped after {state['timeout']} s (time limit)")
        else:
            text = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"
        if cell_index < learner_cells:
            errors.append({"cell": cell_index, "error": clip(text, limits.message_chars)})

    km, connection_dir = _kernel_manager(kernels, limits, name)
    meta = km.kernel_spec.metadata.get("camlab", {})
    oom_before = sandbox.oom_kills(meta.get("cgroup_memory"))
    client = _client_class()(
        nb, km=km, timeout=limits.cell_timeout, timeout_func=lambda cell: state["timeout"], allow_errors=True,
        interrupt_on_timeout=True, error_on_timeout={"ename": "CamlabTimeLimit", "evalue": "time limit"},
        on_cell_error=on_cell_error, record_timing=False, shutdown_kernel="immediate", startup_timeout=60,
        resources={"metadata": {"path": str(work_dir)}})
    client.output_chars = limits.output_chars
    client.truncated_cells = set()
    phase, started, dropped, unwatch = "starting the kernel", False, lambda: 0, lambda: None
    drops, seconds = [], {}

    async def execute(source):
        cell = nbformat.v4.new_code_cell(source)
        nb.cells.append(cell)
        index = len(nb.cells) - 1
        await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        return cell, index in state["timed_out"]

    try:
        # the kernel process's own stdout/stderr (C-level prints, its start-up warnings) go nowhere
        async with client.async_setup_kernel(cleanup_kc=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            started = True
            dropped, unwatch = _drop_watch(client)
            deadline = time.monotonic() + limits.timeout
            phase = "running the notebook"
            for index, cell in enumerate(list(nb.cells)):
                if cell.get("cell_type") != "code" or index in skip:
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    problems.append(f"the notebook's time limit ({limits.timeout} s) was reached at cell {index}; "
                                    f"the remaining cells were not run")
                    break
                state["cut"] = left < limits.cell_timeout  # this cell gets only what is left of the notebook's time
                state["timeout"] = max(1, math.ceil(min(limits.cell_timeout, left)))
                phase = f"running cell {index} of the notebook"
                began = time.monotonic()
                await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                seconds[index] = time.monotonic() - began
                if dropped():
                    drops.append(index)
                if state["cut"] and index in state["timed_out"]:
                    problems.append(f"the notebook's time limit ({limits.timeout} s) was reached at cell {index}; "
                                    f"the remaining cells were not run")
                    break
            phase = "checking the exercises"  # (the learner's functions run here)
            state["timeout"], state["cut"] = limits.cell_timeout, False
            await after(execute)
            if dropped():
                drops.append("checks")
            unwatch()
    except DeadKernelError:
        if sandbox.oom_kills(meta.get("cgroup_memory")) > oom_before:
            problems.append(f"the kernel was stopped while {phase}: its processes together reached the memory "
                            f"limit ({limits.memory_mb} MB)")
        else:
            problems.append(f"the kernel died while {phase} (out of memory, a crash, or os._exit?)")
    except Exception as error:  # kernel start-up failures and the like: report, never stop the whole run
        hint = f" (is --memory-mb {limits.memory_mb} too small for a kernel?)" if phase == "starting the kernel" else ""
        problems.append(f"failed while {phase}: {type(error).__name__}: {clip(str(error), 300)}{hint}")
    finally:
        atexit.unregister(client._cleanup_kernel)  # nbclient leaves it registered when the kernel never started
        kernel_pid = getattr(getattr(km, "provisioner", None), "pid", None)
        try:
            if km.has_kernel:
                await km.shutdown_kernel(now=True)
        except Exception:  # already gone
            pass
        spare = kernels.after_kernel(kind)
        sandbox.end_leftovers(meta.get("cgroup_procs", []), kernel_pid, spare)
        shutil.rmtree(connection_dir, ignore_errors=True)
        # close this notebook's ZMQ context here, every socket with it (the drop watch's monitors too): left to
        # the garbage collector, Context.__del__ runs term() in whatever thread collects it, and term() waits
        # forever for a socket still open (seen once: a later notebook's kernel start hung inside traitlets)
        unwatch()
        km.context.destroy(linger=0)
    del nb.cells[learner_cells:]
    for index in sorted(client.truncated_cells):
        if index < learner_cells:
            problems.append(f"cell {index} printed more than {limits.output_chars} characters; the rest was dropped")
    for where in drops:
        problems.append(f"a message from the kernel bigger than {limits.message_mb} MB was dropped "
                        f"({'in cell ' + str(where) if where != 'checks' else 'while checking the exercises'}); "
                        f"an output is missing")
    slowest = [i for i in sorted(seconds, key=seconds.get, reverse=True)[:12] if seconds[i] >= 0.5]
    timing = {"cells_seconds": round(sum(seconds.values()), 1),
              "slowest_cells": [[nb.cells[i].get("id"), round(seconds[i], 1)] for i in slowest]}
    return problems, errors, started, timing
