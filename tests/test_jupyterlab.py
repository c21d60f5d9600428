"""The README's `./camlab.sh lab` really serves the course: a JupyterLab server on loopback lists the notebooks,
runs a cell in a kernel it starts, and shuts down cleanly."""
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
from tornado import ioloop, websocket

from camlab.paths import REPO_DIR

pytestmark = pytest.mark.slow
NOTEBOOKS = REPO_DIR / "notebooks"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    def __init__(self, tmp_path):
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
                   JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_DATA_DIR=str(tmp_path / "data"))
        env.pop("JUPYTER_PATH", None)
        self.log = open(tmp_path / "lab.log", "w+")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={NOTEBOOKS}"]
            + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
            stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def request(self, path, method="GET", body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
            kind = resp.headers.get("Content-Type", "")
            return json.loads(raw) if "json" in kind else raw.decode()

    def wait_ready(self, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                return self.request("/api/status")
            except OSError:
                time.sleep(0.5)
        self.log.seek(0)
        pytest.fail(f"JupyterLab did not start within {timeout}s:\n{self.log.read()[-3000:]}")

    def execute(self, kernel_id, code, timeout=120):
        """Send one execute_request over the kernel's websocket; return (stdout text, reply status)."""
        url = f"ws://127.0.0.1:{self.port}/api/kernels/{kernel_id}/channels?token={self.token}"
        msg_id = uuid.uuid4().hex
        request = {"header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                              "session": uuid.uuid4().hex, "version": "5.3"},
                   "parent_header": {}, "metadata": {}, "channel": "shell",
                   "content": {"code": code, "silent": False, "store_history": False,
                               "user_expressions": {}, "allow_stdin": False}}

        async def run():
            conn = await websocket.websocket_connect(url)
            conn.write_message(json.dumps(request))
            out, status, idle = [], None, False
            while status is None or not idle:
                raw = await conn.read_message()
                assert raw is not None, "the kernel's websocket closed before the reply"
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = msg["header"]["msg_type"]
                if kind == "stream":
                    out.append(msg["content"]["text"])
                elif kind == "execute_reply":
                    status = msg["content"]["status"]
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
            conn.close()
            return "".join(out), status

        return ioloop.IOLoop.current().run_sync(run, timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


@pytest.fixture
def lab(tmp_path):
    server = Lab(tmp_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def test_jupyterlab_serves_the_course_and_runs_a_cell(lab):
    page = lab.request("/lab")
    assert "JupyterLab" in page

    listed = {item["name"] for item in lab.request("/api/contents/")["content"]}
    course = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert course, "no course notebooks in notebooks/"
    assert set(course) <= listed

    first = lab.request(f"/api/contents/{course[0]}")
    assert first["type"] == "notebook" and first["content"]["cells"]

    kernel = lab.request("/api/kernels", method="POST", body={"name": "python3"})
    out, status = lab.execute(kernel["id"], "import camlab\nprint(camlab.__version__, 6 * 7)")
    assert status == "ok"
    assert out.strip() == "0.1.0 42"

    lab.request("/api/shutdown", method="POST")
    assert lab.proc.wait(30) == 0
