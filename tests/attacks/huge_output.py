# Print far more than any grader should hold in memory.
# expect q1: correct
# expect q2: !correct
# %%
def clip01(x):
    return np.clip(x, 0, 1)
# %%
import sys
sys.stdout.write("x" * 200_000_000)
sys.stdout.flush()
