# Print, in one message, more than the grader accepts from a kernel (32 MB); the grader must not take it in.
# expect q1: *
# expect q2: !correct
# %%
def clip01(x):
    return np.clip(x, 0, 1)
# %%
import sys
sys.stdout.write("x" * 40_000_000)
sys.stdout.flush()
