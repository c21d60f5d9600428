# Leave a process behind that outlives grading and acts later (here: writes a file outside after 4 s).
# expect q1: correct
# expect q2: !correct
# %%
import subprocess, sys
code = ("import os, time\nos.setsid()\nif os.fork():\n    os._exit(0)\ntime.sleep(4)\n"
        "open({OUTSIDE!r} + '/background-was-here', 'w').write('still running')")
subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
def clip01(x):
    return np.clip(x, 0, 1)
