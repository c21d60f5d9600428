"""TensorFlow's C++ start-up lines: what they look like, and keeping them out of a command's output.

On a CPU machine TensorFlow prints, as it loads, lines such as::

    WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
    I0000 00:00:1796324135.339196   22704 cudart_stub.cc:31] Could not find cuda drivers on your machine, ...
    E0000 00:00:1796324163.171550   22704 cuda_platform.cc:52] failed call to cuInit: ... UNKNOWN ERROR (303)

``TF_CPP_MIN_LOG_LEVEL=2`` does not stop them: the first lines are written before TensorFlow's logging reads
that variable (absl logs to stderr until it is initialized), and the ``cuInit`` line is an ERROR, which only
level 3 hides - together with every real error. So camlab filters by *shape* instead: a line is noise when it
is absl's start-up notice, a C++ log line (``[IWEF]dddd hh:mm:ss.uuuuuu  pid file.cc:line] ...``) that comes
from device discovery (CUDA, cuDNN, TensorRT, oneDNN, CPU features), or TensorFlow's "rebuild with compiler
flags" hint. Everything else passes, unchanged.
"""
import atexit
import os
import re
import sys
import threading

# the C++ files that report device discovery at start-up (CUDA, cuDNN, cuBLAS, cuFFT, TensorRT, oneDNN, CPU)
_DEVICE_FILES = (r"(?:cuda\w*|cudart\w*|cudnn\w*|cublas\w*|cufft\w*|gpu\w*|tensorrt\w*|trt\w*|port|cpu_feature_guard"
                 r"|cpu_utils|onednn\w*|mkl\w*|dso_loader|computation_placer)")
TF_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rf"|[IWE]\d{{4}} [\d:. ]+(?:\S+/)?{_DEVICE_FILES}\.(cc|h):\d+\].*"
    r"|To enable the following instructions: .* in other operations, rebuild TensorFlow with the appropriate compiler flags\.)$"
)
# the beginnings of a noise line, to know whether a line still being written may turn out to be one
_NOISE_START = re.compile(r"^(?:[IWEF]\d{0,4}(?: [\d:. ]*)?|[IWEF]\d{4} .*|W(?:A(?:R(?:N(?:I(?:N(?:G(?::.*)?)?)?)?)?)?)?"
                          r"|T(?:o(?: .*)?)?)$")

_state = {"installed": False}


def strip_tf_noise(text):
    """``text`` without TensorFlow's C++ start-up lines (everything else kept, in order)."""
    kept = [line for line in text.splitlines(keepends=True) if not TF_NOISE.match(line.rstrip("\r\n"))]
    return "".join(kept)


class LineFilter:
    """Feeds bytes, returns the bytes to pass on: whole lines that are not noise, and a line still being written
    as soon as it cannot become noise (so progress bars, which redraw with ``\\r``, stay live)."""

    def __init__(self, pattern=TF_NOISE):
        self.pattern, self.pending = pattern, b""

    def _keep(self, line):
        return not self.pattern.match(line.decode("utf-8", "replace").rstrip("\r"))

    def feed(self, chunk):
        self.pending += chunk
        *lines, self.pending = self.pending.split(b"\n")
        out = b"".join(line + b"\n" for line in lines if self._keep(line))
        text = self.pending.decode("utf-8", "replace")
        if self.pending and (b"\r" in self.pending or not _NOISE_START.match(text)):
            out, self.pending = out + self.pending, b""
        return out

    def close(self):
        rest, self.pending = self.pending, b""
        return rest if rest and self._keep(rest) else b""


def _pump(read_fd, write_fd):
    line_filter = LineFilter()
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        passed = line_filter.feed(chunk)
        if passed:
            os.write(write_fd, passed)
    passed = line_filter.close()
    if passed:
        os.write(write_fd, passed)
    os.close(read_fd)


def silence_startup_noise(fd=2):
    """From now on, drop TensorFlow's start-up lines from this process's stderr (file descriptor ``fd``, so C++
    output too); every other line passes at once. For command-line entry points (``python -m camlab``); call it
    before TensorFlow is imported. A second call does nothing. Returns True when the filter was installed."""
    if _state["installed"]:
        return False
    try:
        sys.stderr.flush()
        target = os.dup(fd)
        read_fd, write_fd = os.pipe()
        os.dup2(write_fd, fd)
        os.close(write_fd)
    except OSError:  # no real stderr (an embedded interpreter): leave it alone
        return False
    thread = threading.Thread(target=_pump, args=(read_fd, target), name="camlab-tf-noise", daemon=True)
    thread.start()

    def restore():
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(target, fd)  # closes the pipe's write end: the pump drains what is left and stops
        thread.join(timeout=2.0)

    atexit.register(restore)
    _state["installed"] = True
    return True
