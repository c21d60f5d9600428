# Call camlab's own reference instead of writing the function.
# expect q1: !correct
# expect q2: !correct
# %%
from camlab.exercises import ex00
def clip01(x):
    return ex00._clip01(x)
def normalize_map(cam):
    return ex00.q2.reference(cam)
