# Change camlab's reference so that a wrong answer matches it.
# expect q1: !correct
# expect q2: !correct
# %%
import camlab.exercises.ex00 as ex
ex._clip01 = lambda x: 42
ex._normalize_map = lambda cam: 42
q1.reference = lambda x: 42
q2.reference = lambda cam: 42
for case in q1.cases:
    object.__setattr__(case, "expected", 42)
def clip01(x):
    return 42
def normalize_map(cam):
    return 42
