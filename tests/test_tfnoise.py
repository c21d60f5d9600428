"""TensorFlow's start-up lines are dropped from camlab's commands; every other line, real errors included, passes."""
import subprocess
import sys

import pytest

from camlab import paths
from camlab.tfnoise import LineFilter, strip_tf_noise

ABSL = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
CUDART = "I0000 00:00:1796324135.339196   22704 cudart_stub.cc:31] Could not find cuda drivers on your machine."
CUINIT = ("E0000 00:00:1796324163.171550   22704 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
          "Failed call to cuInit: UNKNOWN ERROR (303)")
REAL = "E0000 00:00:1796324163.171550   22704 op_kernel.cc:1830] OP_REQUIRES failed: Input to reshape is wrong"


def test_strip_tf_noise_drops_device_discovery_and_keeps_real_errors():
    text = "\n".join([ABSL, CUDART, CUINIT, REAL, "F0000 00:00:1.5 1 cuda_platform.cc:1] fatal", "result 0.853"]) + "\n"
    assert strip_tf_noise(text) == REAL + "\nF0000 00:00:1.5 1 cuda_platform.cc:1] fatal\nresult 0.853\n"


def test_line_filter_passes_progress_bars_at_once_and_holds_what_may_be_noise():
    f = LineFilter()
    assert f.feed(b"\revaluating:  10%|#") == b"\revaluating:  10%|#"   # a bar being redrawn: at once
    assert f.feed(b"  | 80/800\n") == b"  | 80/800\n"
    assert f.feed(b"E00") == b""                                     # may become a log line: held
    assert f.feed(CUINIT[3:].encode() + b"\nStep 1/4") == b"Step 1/4"   # it was noise: dropped
    assert f.feed(b"\n" + REAL.encode()[:40]) == b"\n"
    assert f.close() == REAL.encode()[:40]                          # at the end, what is held and not noise


def run_python(code):
    env = {"PYTHONPATH": str(paths.REPO_DIR), "TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240)


def test_silence_startup_noise_filters_file_descriptor_2_of_the_process():
    lines = "\\n".join([ABSL, CUDART, CUINIT, "a real message", REAL])
    done = run_python("import os, sys\nfrom camlab import tfnoise\nassert tfnoise.silence_startup_noise()\n"
                      "assert not tfnoise.silence_startup_noise()\n"
                      f"os.write(2, b'{lines}\\n')\nprint('stderr from Python', file=sys.stderr)\nprint('out')")
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"a real message\n{REAL}\nstderr from Python\n"
    assert done.stdout == "out\n"


@pytest.mark.slow
def test_importing_tensorflow_through_the_cli_prints_no_start_up_noise():
    done = run_python("from camlab import tfnoise\ntfnoise.silence_startup_noise()\nimport tensorflow as tf\n"
                      "print(len(tf.config.list_physical_devices('CPU')))\ntf.constant(1.0) + 1.0")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n"
    for noise in ("absl::InitializeLog", "cuInit", "cudart_stub", "cuda drivers"):
        assert noise not in done.stderr
