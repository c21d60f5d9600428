# Escape the memory limit by spreading memory over many processes (each under the per-process limit).
# expect q1: !correct
# expect q2: !correct
# %%
import subprocess, sys
hog = "import numpy as np, time\na = np.ones(600 * 2**20, dtype=np.uint8)\ntime.sleep(1)\nprint('held')"
children = [subprocess.Popen([sys.executable, "-c", hog], stdout=subprocess.PIPE) for _ in range(4)]
# wait 4 s at most, well inside the 8 s cell limit: a child stalled in the cgroup's reclaim rather than killed
# must not turn this cell into a time-limit error in one run and not in the other (the runs must be identical)
import time
deadline, held = time.monotonic() + 4, 0
for child in children:
    try:
        held += child.communicate(timeout=max(0.1, deadline - time.monotonic()))[0].strip() == b"held"
    except subprocess.TimeoutExpired:
        child.kill()
print("processes that held 600 MB:", held)
if held == 4:  # 2.4 GB together, above the 1 GB the kernel may use: the limit did not hold
    def clip01(x):
        return np.clip(x, 0, 1)
    def normalize_map(cam):
        cam = np.maximum(cam, 0)
        return cam / cam.max() if cam.max() > 0 else cam
