# Create a learner who never handed anything in, with a correct notebook.
# expect q1: !correct
# expect q2: !correct
# %%
import os
os.makedirs("{SUBMISSIONS}/ghost", exist_ok=True)
open("{SUBMISSIONS}/ghost/00_demo.ipynb", "w").write("{}")
