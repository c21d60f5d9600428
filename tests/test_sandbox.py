"""Isolation of the learners' kernels (camlab.grading.sandbox), the fallback without it, and sharded grading.

The isolated path itself is exercised by tests/test_grading.py and tests/test_attacks.py wherever bubblewrap
works; here: how the platform is detected and the limits a cgroup v1 or v2 sets (on fake cgroup trees), the
sandbox's and systemd-run's command lines, the fallback's warning and clean-up, shard slicing and merging, the
dropped-message report, and warm kernels (forks of the learner's template: pristine, interruptible, and ending
everything they start).
"""
import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from camlab import grading
from camlab.grading import cli, sandbox

META = {"camlab": {"id": "00_demo", "exercises": "camlab.exercises.ex00", "version": "0.1.0"}}
HEAD = "import numpy as np\nfrom camlab.exercises.ex00 import q1, q2"
CLIP = "def clip01(x):\n    return np.clip(x, 0, 1)"
LIMITS = ["--cell-timeout", "5", "--timeout", "12", "--memory-mb", "1024", "--course", "camlab.exercises.ex00",
          "--seed", "11"]


def write(folder, learner, *cells):
    path = folder / learner / "00_demo.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=[new_code_cell(c) for c in (HEAD, *cells)],
                                metadata=json.loads(json.dumps(META))), str(path))
    return path


def fake_tree(tmp_path, proc_lines, files):
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    proc = tmp_path / "proc_cgroup"
    proc.write_text("\n".join(proc_lines) + "\n")
    return root, proc


def test_cgroup_v2_is_used_only_where_memory_and_pids_are_delegated(tmp_path):
    root, proc = fake_tree(tmp_path, ["0::/user.slice/grader"], {
        "user.slice/grader/cgroup.subtree_control": "cpu memory pids", "user.slice/grader/cgroup.procs": ""})
    kind, parents = sandbox.cgroup_parents(root, proc)
    assert kind == "cgroup v2" and parents["memory"] == root / "user.slice/grader"
    (root / "user.slice/grader/cgroup.subtree_control").write_text("cpu")  # not delegated: no cgroup at all
    assert sandbox.cgroup_parents(root, proc) == (None, {})


def test_cgroup_v1_needs_both_hierarchies(tmp_path):
    root, proc = fake_tree(tmp_path, ["4:memory:/jobs/a", "8:pids:/", "0::/"], {
        "memory/jobs/a/cgroup.procs": "", "pids/cgroup.procs": "", "unified/cgroup.subtree_control": ""})
    kind, parents = sandbox.cgroup_parents(root, proc)
    assert kind == "cgroup v1"
    assert parents == {"memory": root / "memory/jobs/a", "pids": root / "pids"}
    (root / "pids/cgroup.procs").unlink()
    assert sandbox.cgroup_parents(root, proc) == (None, {})


def test_a_cgroup_v2_sets_memory_swap_and_pids_limits_and_reads_its_oom_kills(tmp_path):
    parent = tmp_path / "grader"
    parent.mkdir()
    cgroup = sandbox.Cgroup({"memory": parent, "pids": parent}, 512, 64, "cgroup v2")
    folder = parent / cgroup.name
    assert [p.name for p in parent.iterdir()] == [cgroup.name]  # one folder for both controllers
    assert (folder / "memory.max").read_text() == str(512 * 2**20)
    assert (folder / "memory.swap.max").read_text() == "0"
    assert (folder / "pids.max").read_text() == "64"
    assert cgroup.procs_files() == [str(folder / "cgroup.procs")]
    assert cgroup.oom_kills() == 0  # no memory.events yet
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\n")
    assert cgroup.oom_kills() == 2


def test_a_cgroup_v1_sets_the_limits_in_each_hierarchy(tmp_path):
    memory, pids = tmp_path / "memory", tmp_path / "pids"
    memory.mkdir(), pids.mkdir()
    cgroup = sandbox.Cgroup({"memory": memory, "pids": pids}, 256, 32, "cgroup v1")
    assert (memory / cgroup.name / "memory.limit_in_bytes").read_text() == str(256 * 2**20)
    assert not (memory / cgroup.name / "memory.max").exists()
    assert (pids / cgroup.name / "pids.max").read_text() == "32"
    assert len(cgroup.procs_files()) == 2
    (memory / cgroup.name / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
    assert cgroup.oom_kills() == 3


def test_without_a_cgroup_the_launcher_runs_the_kernel_under_systemd_run_with_a_minimal_environment(
        tmp_path, monkeypatch):
    config = tmp_path / "sandbox.json"
    config.write_text(json.dumps({"bwrap": None, "cgroup_procs": [], "env": {"CAMLAB_GRADING": "1"},
                                  "systemd_run": {"memory_mb": 512, "pids_max": 64}}))
    monkeypatch.setenv("SECRET_TOKEN", "s3cret")
    monkeypatch.setenv("JPY_PARENT_PID", "1")
    calls = []
    monkeypatch.setattr(sandbox.os, "execvpe", lambda file, args, env: calls.append((file, args, env)))
    sandbox.launch(["--config", str(config), "--", "python", "-m", "ipykernel_launcher", "-f", "conn.json"])
    [(file, args, env)] = calls
    assert file == "systemd-run"
    assert args == ["systemd-run", "--user", "--scope", "--quiet", "-p", "MemoryMax=512M", "-p", "MemorySwapMax=0",
                    "-p", "TasksMax=64", "--", "python", "-m", "ipykernel_launcher", "-f", "conn.json"]
    assert env["CAMLAB_GRADING"] == "1"
    assert set(env) <= {*sandbox.PASSED_ENV, "HOME", "CAMLAB_GRADING"}  # no SECRET_TOKEN, no JPY_*


def test_stale_cgroups_of_a_killed_run_are_removed_and_live_ones_kept(tmp_path):
    dead = 2**22 + 12345  # above any pid_max this machine uses
    (tmp_path / f"camlab-{dead}-1").mkdir()
    (tmp_path / f"camlab-{dead}-1" / "cgroup.procs").write_text("")
    (tmp_path / f"camlab-{os.getpid()}-1").mkdir()
    (tmp_path / "someone-else").mkdir()
    # a real cgroup folder's files vanish with rmdir; here the fake's file goes first
    (tmp_path / f"camlab-{dead}-1" / "cgroup.procs").unlink()
    assert sandbox.remove_stale(tmp_path) == [tmp_path / f"camlab-{dead}-1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"camlab-{os.getpid()}-1", "someone-else"]


def test_temporary_folders_of_a_killed_run_are_removed_and_live_ones_kept(tmp_path):
    dead = 2**22 + 12345
    stale = [tmp_path / f"camlab-{kind}-{dead}-abc" for kind in ("kernels", "connection", "grade")]
    live = tmp_path / f"camlab-grade-{os.getpid()}-xyz"
    for folder in (*stale, live, tmp_path / "camlab-grade-notapid-x", tmp_path / "other"):
        folder.mkdir()
        (folder / "file").write_text("x")
    assert sandbox.remove_stale_folders(tmp_path) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "camlab-grade-notapid-x", "other"])
    assert sandbox.temp_prefix("grade") == f"camlab-grade-{os.getpid()}-"


def test_the_sandbox_hides_the_submissions_and_results_and_passes_a_minimal_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CAMLAB_TEST_SECRET", "hunter2")
    isolation = sandbox.Isolation(sandbox="bubblewrap", bwrap="/usr/bin/bwrap")
    submissions, results = tmp_path / "submissions", tmp_path / "results"
    submissions.mkdir(), results.mkdir()
    config = sandbox.sandbox_config(isolation, hide=[submissions, results], env={"MPLBACKEND": "Agg"})
    argv = sandbox.bwrap_argv(config, str(tmp_path / "conn" / "kernel.json"), str(tmp_path / "work"))
    text = " ".join(argv)
    for flag in ("--ro-bind / /", "--unshare-net", "--unshare-pid", "--die-with-parent", "--clearenv",
                 "--cap-drop ALL", "--tmpfs /tmp", f"--tmpfs {submissions.resolve()}", f"--tmpfs {results.resolve()}",
                 f"--bind {tmp_path / 'work'} {tmp_path / 'work'}", "--setenv MPLBACKEND Agg"):
        assert flag in text, flag
    assert "hunter2" not in text and "JPY_PARENT_PID" not in text
    assert argv[-1] == "--"
    # the folders given back after hiding are Python's own, never the hidden ones themselves
    assert not any(_inside(k, h) for k in config["keep"] for h in (submissions, results))


def _inside(path, folder):
    return path == str(folder.resolve()) or path.startswith(str(folder.resolve()) + os.sep)


def test_isolation_none_warns_and_is_recorded():
    info = sandbox.detect("none")
    assert info.sandbox == "none" and "with your permissions" in info.warnings[0]
    assert info.describe()["memory"] == "address-space limit per process"
    with pytest.raises(ValueError, match="choose auto, bubblewrap or none"):
        sandbox.detect("docker")


def test_without_bubblewrap_auto_falls_back_with_a_warning_and_bubblewrap_refuses(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    info = sandbox.detect("auto")
    assert info.sandbox == "none" and info.network == "shared with the grader"
    assert "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)" in info.warnings[0]
    with pytest.raises(RuntimeError, match="--isolation bubblewrap: bubblewrap is not installed"):
        sandbox.detect("bubblewrap")


@pytest.mark.slow
def test_the_fallback_grades_warns_and_ends_what_a_notebook_started(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CAMLAB_TEST_SECRET", "hunter2")
    marker = tmp_path / "outside" / "left-behind"
    marker.parent.mkdir()
    background = ("import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(4); "
                  f"open({str(marker)!r}, \"w\").write(\"x\")'])")
    planted = tmp_path / "submissions" / "ann" / "planted.txt"
    # without the sandbox the submissions folder is in reach: the change is caught by the before/after hashes
    write(tmp_path / "submissions", "ann", CLIP, background, f"open({str(planted)!r}, 'w').write('x')",
          "import os\nraise RuntimeError(os.environ.get('CAMLAB_TEST_SECRET', 'no secret here'))")
    out = tmp_path / "results"
    assert grading.main([str(tmp_path / "submissions"), "--out", str(out), "--isolation", "none", *LIMITS]) == 0
    err = capsys.readouterr().err
    assert "warning: isolation switched off" in err
    assert "1 files in the submissions folder changed while grading" in err
    report = json.loads((out / "results.json").read_text())
    assert report["isolation"]["sandbox"] == "none"
    assert report["submissions_changed"] == ["ann/planted.txt"]
    errors = report["learners"]["ann"]["notebooks"][0]["errors"]
    assert {"cell": 4, "error": "RuntimeError: no secret here"} in errors  # the environment was cleared
    assert report["learners"]["ann"]["results"]["00_demo:q1"]["status"] == "correct"
    import time
    time.sleep(5)
    assert not marker.exists()  # the process was killed with its kernel's session


def test_shards_are_stable_slices_by_learner_name():
    names = [f"learner{i:03d}" for i in range(200)]
    slices = [cli.shard_of(name, 4) for name in names]
    assert set(slices) == {1, 2, 3, 4}
    assert all(20 <= slices.count(k) <= 80 for k in range(1, 5))
    assert [cli.shard_of(name, 4) for name in reversed(names)] == slices[::-1]  # order does not matter
    assert cli.parse_shard("2/8") == (2, 8)
    for bad in ("0/3", "4/3", "x", "1/"):
        with pytest.raises(ValueError, match="--shard"):
            cli.parse_shard(bad)


@pytest.mark.slow
def test_sharded_grading_merges_into_the_unsharded_result(tmp_path, capsys):
    submissions = tmp_path / "submissions"
    learners = ["ann", "bob", "cat", "dan"]
    for name in learners:
        write(submissions, name, CLIP if name != "bob" else "def clip01(x):\n    return x")
    shards = []
    for k in (1, 2):
        shards.append(tmp_path / f"shard{k}")
        assert grading.main([str(submissions), "--out", str(shards[-1]), "--shard", f"{k}/2", *LIMITS]) == 0
    graded = [sorted(json.loads((s / "results.json").read_text())["learners"]) for s in shards]
    assert sorted(graded[0] + graded[1]) == learners and not set(graded[0]) & set(graded[1])
    assert grading.main(["merge", *map(str, shards), "--out", str(tmp_path / "merged")]) == 0
    merged = json.loads((tmp_path / "merged" / "results.json").read_text())
    assert sorted(merged["learners"]) == learners
    assert merged["learners"]["bob"]["results"]["00_demo:q1"]["status"] == "incorrect"
    assert sorted(p.name for p in (tmp_path / "merged" / "feedback").iterdir()) == [f"{n}.html" for n in learners]
    rows = (tmp_path / "merged" / "results.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == learners
    # a missing or repeated slice is refused, naming it
    assert grading.main(["merge", str(shards[0]), "--out", str(tmp_path / "m2")]) == 2
    assert "slices 2/2 are missing" in capsys.readouterr().err
    assert grading.main(["merge", str(shards[0]), str(shards[0]), "--out", str(tmp_path / "m3")]) == 2
    assert "slice 1/2 given twice" in capsys.readouterr().err


def test_symlinked_learner_folders_are_not_followed(tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.ipynb").write_text("{}")
    (tmp_path / "submissions" / "alice").mkdir(parents=True)
    os.symlink(tmp_path / "other", tmp_path / "submissions" / "mallory")
    os.symlink(tmp_path / "other", tmp_path / "submissions" / "alice" / "linked")
    found = grading.find_submissions(tmp_path / "submissions")
    assert found == {"alice": []}


def test_results_are_written_atomically_and_a_killed_runs_staging_is_removed(tmp_path):
    stale = tmp_path / ".camlab-staging-old"
    stale.mkdir(parents=True)
    (stale / "results.json").write_text("half")
    report = {"exercises": [], "limits": {}, "learners": {}}
    cli.write_atomically(report, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feedback", "gradebook.csv", "results.csv", "results.json"]
    assert json.loads((tmp_path / "results.json").read_text())["learners"] == {}


def test_the_launcher_refuses_a_bad_command_line():
    with pytest.raises(SystemExit, match="usage: sandbox.py --config FILE"):
        sandbox.launch(["--oops"])
    assert Path(sandbox.kernel_argv("/x/sandbox.json", ["python", "-f", "{connection_file}"])[1]).name == "sandbox.py"


GROWTH = """
import asyncio, resource, sys, tempfile
from pathlib import Path
from nbformat.v4 import new_code_cell, new_notebook
from camlab.grading import kernels, sandbox
limits = kernels.Limits(cell_timeout=30, timeout=60, memory_mb=2048, message_mb=32)
nb = new_notebook(cells=[new_code_cell("import sys; sys.stdout.write('x' * 300_000_000); sys.stdout.flush()"),
                         new_code_cell("print('still talking')")])
async def after(execute):
    pass
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with kernels.grader_kernels(limits, sandbox.detect()) as folder:
    problems, errors, info = asyncio.run(kernels.run_in_kernel(nb, limits, folder, Path(tempfile.mkdtemp()), after))
print(problems)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


@pytest.mark.slow
def test_a_300_mb_message_from_the_kernel_never_reaches_the_graders_memory():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", GROWTH], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 0, done.stderr[-2000:]
    growth_mb = int(done.stdout.split()[-1])
    assert growth_mb < 100  # without the cap the grader's peak grows by about 860 MB
    # and the lost output is reported, not dropped silently
    assert "a message from the kernel bigger than 32 MB was dropped (in cell 0); an output is missing" in done.stdout


def _templates(root):
    """Processes running the warm kernels' template (or a kernel forked from it) for kernels root ``root``."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) > 2 and argv[1].endswith(b"zygote.py") and argv[2] == b"serve" and str(root).encode() in b" ".join(argv):
            found.append(int(entry.name))
    return found


def _text(cell):
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


@pytest.mark.slow
@pytest.mark.skipif(not sandbox.detect().bwrap, reason="warm kernels need bubblewrap")
def test_warm_kernels_are_fresh_forks_and_nothing_they_start_outlives_them(tmp_path):
    import asyncio
    import tempfile

    from camlab.grading import kernels

    limits = kernels.Limits(cell_timeout=5, timeout=60, memory_mb=4096)

    def run(kernels_, *sources):
        nb = new_notebook(cells=[new_code_cell(s) for s in sources])
        work = Path(tempfile.mkdtemp(dir=kernels_.root, prefix=sandbox.temp_prefix("grade"))) / "work"
        work.mkdir()

        async def after(execute):
            pass

        problems, errors, info = asyncio.run(kernels.run_in_kernel(nb, limits, kernels_, work, after))
        return nb, problems, errors, info

    with kernels.grader_kernels(limits, sandbox.detect()) as warm:
        first, problems, errors, info = run(
            warm, "import sys, os, subprocess\nprint('tensorflow' in sys.modules, os.getcwd())",
            "left = 42\nopen('/tmp/left.txt', 'w').write('x')\nopen(os.path.expanduser('~/home.txt'), 'w').write('x')\n"
            "kids = [subprocess.Popen(['sleep', '3137']), subprocess.Popen(['setsid', 'sleep', '3138'])]",
            "while True:\n    pass",
            "print('alive after the interrupt')")
        assert info["kernel"] == "warm" and not problems, (info, problems)
        assert _text(first.cells[0]).split()[0] == "True"  # TensorFlow came with the fork
        assert _text(first.cells[0]).split()[1].endswith("/work")  # the notebook's own working folder
        assert errors == [{"cell": 2, "error": "stopped after 5 s (time limit)"}]  # interrupted by message
        assert "alive after the interrupt" in _text(first.cells[3])
        assert not any(b"sleep\x00313" in (p / "cmdline").read_bytes() for p in Path("/proc").glob("[0-9]*")
                       if (p / "cmdline").exists())  # not even the one that left its session
        assert len(_templates(warm.root)) == 1  # the template only: its kernel is gone

        second, problems, _, info = run(
            warm, "import os\nprint('left' in globals(), os.path.exists('/tmp/left.txt'), "
                  "os.path.exists(os.path.expanduser('~/home.txt')), 'PRELOAD' in globals())")
        # nothing of the last notebook, nor of the template's own module, in the new kernel
        assert info["kernel"] == "warm" and _text(second.cells[0]).split() == ["False"] * 4

        _, problems, _, info = run(warm, "import os\nos._exit(3)", "print('never')")
        assert info["kernel"] == "warm" and problems == [
            "the kernel died while running cell 0 of the notebook (out of memory, a crash, or os._exit?)"]

        # a kernel that kills its template only loses the template: the next notebook gets a new one
        killer, problems, _, info = run(warm, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
                                        "print('still here')")
        assert not problems and _text(killer.cells[1]).strip() == "still here"
        assert _templates(warm.root) == []  # its sandbox was ended after the notebook
        again, problems, _, info = run(warm, "import sys\nprint('tensorflow' in sys.modules)")
        assert info["kernel"] == "warm" and not problems and _text(again.cells[0]).strip() == "True"
    assert _templates(warm.root) == []

    with kernels.grader_kernels(limits, sandbox.detect(), warm=False) as fresh:
        nb, problems, _, info = run(fresh, "import sys\nprint('tensorflow' in sys.modules)")
        assert info == {**info, "kernel": "fresh", "why_fresh": "switched off"} and _text(nb.cells[0]).strip() == "False"
