# Escape the memory limit by spreading memory over many processes (each under the per-process limit).
# expect q1: !correct
# expect q2: !correct
# %%
import subprocess, sys
hog = "import numpy as np, time\na = np.ones(600 * 2**20, dtype=np.uint8)\ntime.sleep(1)\nprint('held')"
children = [subprocess.Popen([sys.executable, "-c", hog], stdout=subprocess.PIPE) for _ in range(4)]
held = sum(child.communicate()[0].strip() == b"held" for child in children)
print("processes that held 600 MB:", held)
if held == 4:  # 2.4 GB together, above the 1 GB the kernel may use: the limit did not hold
    def clip01(x):
        return np.clip(x, 0, 1)
    def normalize_map(cam):
        cam = np.maximum(cam, 0)
        return cam / cam.max() if cam.max() > 0 else cam
