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


def write_kernelspec(folder, name, memory_mb=0, file_mb=0, env=None, wrap=None, metadata=None):
    """Write kernelspec ``folder/name`` for THIS Python's IPython kernel (whatever kernels are installed elsewhere).

    ``memory_mb`` limits the kernel's address space (``RLIMIT_AS``: a bigger allocation raises MemoryError) and
    ``file_mb`` the size of any file it writes (``RLIMIT_FSIZE``); 0 means no limit. Returns ``folder``, to give to
    ``jupyter_client.kernelspec.KernelSpecManager(kernel_dirs=[folder])``. ``wrap(argv)`` gives the command
    that launches the kernel's ``argv`` (the sandbox's launcher); ``metadata`` goes into the kernelspec.
    """
    spec_dir = Path(folder) / name
    spec_dir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-c", _LAUNCHER, str(int(memory_mb)), str(int(file_mb)), "-f", "{connection_file}"]
    spec = {
        "argv": wrap(argv) if wrap else argv,
        "display_name": f"camlab ({name})",
        "language": "python",
        "env": {"TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})},
        "metadata": metadata or {},
    }
    if wrap:  # a signal would reach the launcher (bubblewrap), not the kernel: interrupt by a control message
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


@contextmanager
def grader_kernels(limits, isolation=None, hide=()):
    """A kernels folder with the grader's kernelspec (and, with ``isolation``, a cgroup for its kernels), for
    one learner's notebooks; yields the folder; removes the folder and the cgroup (killing what is left)."""
    folder = Path(tempfile.mkdtemp(prefix=sandbox.temp_prefix("kernels")))
    cgroup = None
    try:
        if isolation is not None:
            cgroup = sandbox.make_cgroup(isolation, limits.memory_mb, limits.processes)
        grader_kernelspec(folder, limits, isolation, cgroup, hide)
        yield folder
    finally:
        if cgroup is not None:
            cgroup.remove()
        shutil.rmtree(folder, ignore_errors=True)


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


def _kernel_manager(kernels_dir, limits):
    """``(kernel manager, its connection folder)`` for the grader's kernelspec in ``kernels_dir``.

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
    km = CappedManager(kernel_name=KERNEL_NAME, context=context,
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernels_dir)]))
    connection_dir = Path(tempfile.mkdtemp(prefix=sandbox.temp_prefix("connection")))
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


async def run_in_kernel(nb, limits, kernels_dir, work_dir, after):
    """Run ``nb``'s code cells in a fresh limited kernel (cwd ``work_dir``), then ``await after(execute)``.

    ``execute(source)`` runs one more cell in the same kernel (per-cell time limit) and returns
    ``(cell, timed_out)``. Returns ``(problems, errors in the learner's cells)``; ``nb`` is left as given.
    A dead kernel, a failed start or an exception in ``after`` become problems, never an exception.
    """
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

    km, connection_dir = _kernel_manager(kernels_dir, limits)
    meta = km.kernel_spec.metadata.get("camlab", {})
    oom_before = sandbox.oom_kills(meta.get("cgroup_memory"))
    client = _client_class()(
        nb, km=km, timeout=limits.cell_timeout, timeout_func=lambda cell: state["timeout"], allow_errors=True,
        interrupt_on_timeout=True, error_on_timeout={"ename": "CamlabTimeLimit", "evalue": "time limit"},
        on_cell_error=on_cell_error, record_timing=False, shutdown_kernel="immediate", startup_timeout=60,
        resources={"metadata": {"path": str(work_dir)}})
    client.output_chars = limits.output_chars
    client.truncated_cells = set()
    phase = "starting the kernel"

    async def execute(source):
        cell = nbformat.v4.new_code_cell(source)
        nb.cells.append(cell)
        index = len(nb.cells) - 1
        await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        return cell, index in state["timed_out"]

    try:
        # the kernel process's own stdout/stderr (C-level prints, its start-up warnings) go nowhere
        async with client.async_setup_kernel(cleanup_kc=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            deadline = time.monotonic() + limits.timeout
            phase = "running the notebook"
            for index, cell in enumerate(list(nb.cells)):
                if cell.get("cell_type") != "code":
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    problems.append(f"the notebook's time limit ({limits.timeout} s) was reached at cell {index}; "
                                    f"the remaining cells were not run")
                    break
                state["cut"] = left < limits.cell_timeout  # this cell gets only what is left of the notebook's time
                state["timeout"] = max(1, math.ceil(min(limits.cell_timeout, left)))
                phase = f"running cell {index} of the notebook"
                await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                if state["cut"] and index in state["timed_out"]:
                    problems.append(f"the notebook's time limit ({limits.timeout} s) was reached at cell {index}; "
                                    f"the remaining cells were not run")
                    break
            phase = "checking the exercises"  # (the learner's functions run here)
            state["timeout"], state["cut"] = limits.cell_timeout, False
            await after(execute)
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
        sandbox.end_leftovers(meta.get("cgroup_procs", []), kernel_pid)
        shutil.rmtree(connection_dir, ignore_errors=True)
    del nb.cells[learner_cells:]
    for index in sorted(client.truncated_cells):
        if index < learner_cells:
            problems.append(f"cell {index} printed more than {limits.output_chars} characters; the rest was dropped")
    return problems, errors
