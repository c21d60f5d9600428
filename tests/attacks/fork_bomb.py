# Start processes until the machine gives up.
# expect q1: !correct
# expect q2: !correct
# %%
import os
children = 0
try:
    while children < 5000:
        if os.fork() == 0:
            import time
            time.sleep(30)
            os._exit(0)
        children += 1
except OSError as error:
    print("stopped after", children, error)
