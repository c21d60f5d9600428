# Make the comparators find no difference.
# expect q1: !correct
# expect q2: !correct
# %%
q1.compare = lambda expected, got: None
q2.compare = lambda expected, got: None
import camlab.exercises.core as core
core.close = lambda *a, **k: (lambda expected, got: None)
def clip01(x):
    return 0
def normalize_map(cam):
    return "anything"
