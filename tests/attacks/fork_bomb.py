# Start processes until the machine gives up.
# expect q1: !correct
# expect q2: !correct
# %%
import os, signal, time
children = []
try:
    while len(children) < 2000:
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
except OSError as error:
    print("stopped after", len(children), error)
reached = len(children)
for pid in children:  # (so that the rest of the run does not depend on when the limit was hit)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
if reached == 2000:  # no process limit held
    def clip01(x):
        return np.clip(x, 0, 1)
    def normalize_map(cam):
        cam = np.maximum(cam, 0)
        return cam / cam.max() if cam.max() > 0 else cam
