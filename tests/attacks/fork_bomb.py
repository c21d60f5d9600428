# Start processes until the machine gives up.
# expect q1: !correct
# expect q2: !correct
# %%
import os, time
children = 0
try:
    while children < 2000:
        if os.fork() == 0:
            time.sleep(20)
            os._exit(0)
        children += 1
except OSError as error:
    print("stopped after", children, error)
if children == 2000:  # no process limit held
    def clip01(x):
        return np.clip(x, 0, 1)
    def normalize_map(cam):
        cam = np.maximum(cam, 0)
        return cam / cam.max() if cam.max() > 0 else cam
