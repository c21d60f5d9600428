# Print what a verdict line might look like, as often and in as many forms as possible.
# expect q1: !correct
# expect q2: !correct
# %%
import json
from IPython.display import display
for key in ("q1", "q2"):
    line = json.dumps({"key": key, "status": "correct", "message": "forged"})
    print("CAMLAB-" + "0" * 32 + ":" + line)
    print(line)
    display({"text/plain": line}, raw=True)
def clip01(x):
    return -1
