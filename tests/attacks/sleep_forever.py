# One cell never ends; the notebook's other answers must still count.
# expect q1: correct
# expect q2: correct
# %%
def clip01(x):
    return np.clip(x, 0, 1)
# %%
import time
time.sleep(10**6)
# %%
def normalize_map(cam):
    cam = np.maximum(cam, 0)
    return cam / cam.max() if cam.max() > 0 else cam
