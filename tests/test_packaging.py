"""The two install routes (pip's pyproject.toml and conda's environment.yml) must ask for the same things."""
import re
import subprocess
import sys

import pytest

import camlab
from camlab.__main__ import COMMANDS, main
from camlab.paths import REPO_DIR

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib


def _norm(req):
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", req).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def pyproject_requirements():
    meta = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"]) + list(meta["optional-dependencies"]["test"])
    return dict(_norm(r) for r in reqs)


def environment_requirements():
    reqs = {}
    in_pip = False
    for line in (REPO_DIR / "environment.yml").read_text().splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if stripped.strip() == "- pip:":
            in_pip = True
            continue
        if in_pip and stripped.strip().startswith("- "):
            item = stripped.strip()[2:].strip()
            if not item.startswith("-e"):
                name, spec = _norm(item)
                reqs[name] = spec
    return reqs


def test_environment_yml_and_pyproject_agree():
    assert environment_requirements() == pyproject_requirements()


def test_environment_yml_requires_the_same_python():
    meta = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["project"]
    env_text = (REPO_DIR / "environment.yml").read_text()
    assert f"python{meta['requires-python']}" in env_text.replace(" ", "")


def test_version_is_the_one_in_pyproject():
    meta = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["project"]
    assert camlab.__version__ == meta["version"]


def test_require_accepts_this_version_and_refuses_a_newer_one():
    assert camlab.require("0.0.1") == camlab.__version__
    with pytest.raises(RuntimeError, match=r"expects camlab 99\.0 or newer.*camlab\.sh setup"):
        camlab.require("99.0")


def test_cli_lists_its_commands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_cli_rejects_an_unknown_command(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_every_cli_command_points_at_a_real_function():
    import importlib

    for name, (module, func, _) in COMMANDS.items():
        assert callable(getattr(importlib.import_module(module), func)), name


def test_ci_runs_the_readme_test_command():
    readme = (REPO_DIR / "README.md").read_text()
    ci = (REPO_DIR / ".ci" / "run").read_text()
    assert "./camlab.sh test" in readme
    assert "./camlab.sh test" in ci
    assert "./camlab.sh demo" in readme


def test_python_dash_m_camlab_runs():
    out = subprocess.run([sys.executable, "-m", "camlab", "--help"], capture_output=True, text=True, check=True)
    assert "usage: python -m camlab" in out.stdout


def _readme_shell_lines():
    """(block's first line, command line) for every line of the README's ```bash blocks."""
    readme = (REPO_DIR / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)
    return [(block.splitlines()[0], line.split("#")[0].strip()) for block in blocks for line in block.splitlines()
            if line.split("#")[0].strip()]


def test_readme_commands_work_on_a_fresh_machine():
    """Outside the conda route (which activates its environment), README commands go through ./camlab.sh, and
    every ./camlab.sh subcommand is one the script or camlab knows."""
    script = (REPO_DIR / "camlab.sh").read_text()
    own = set(re.findall(r"^  ([a-z|-]+)\)", script, flags=re.MULTILINE))
    own = {name for names in own for name in names.split("|")}
    lines = _readme_shell_lines()
    assert lines, "the README has no bash blocks"
    for first, line in lines:
        if first.startswith("conda env create"):
            continue
        assert not line.startswith(("python ", "jupyter ", "pytest ")), \
            f"README line {line!r} needs an active .venv; write ./camlab.sh ... instead"
        if line.startswith("./camlab.sh"):
            sub = line.split()[1]
            assert sub in own or sub in COMMANDS, f"README runs ./camlab.sh {sub}, which is no command"


def test_lab_opens_where_the_learner_works():
    script = (REPO_DIR / "camlab.sh").read_text()
    assert "--ServerApp.root_dir=notebooks" in script and "--LabApp.default_url=/lab/tree/student" in script
    assert (REPO_DIR / "notebooks" / "00_START_HERE.md").is_file()
    assert (REPO_DIR / "notebooks" / "student" / "00_WORK_HERE.md").is_file()
    assert "notebooks/student/" in (REPO_DIR / "README.md").read_text()
