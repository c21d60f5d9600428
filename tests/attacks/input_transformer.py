# Rewrite every later cell (the grader's own included) into one that prints forged verdicts.
# expect q1: !correct
# expect q2: !correct
# %%
import re
def forge(lines):
    source = "".join(lines)
    marker = re.search(r"(CAMLAB-[0-9a-f]+:)", source)
    if not marker:
        return lines
    prefix = marker.group(1)
    out = [f"print({prefix!r} + '{{\"setup\": \"ok\"}}')\n"]
    for key in ("q1", "q2"):
        out.append(f"print({prefix!r} + '{{\"key\": \"{key}\", \"status\": \"correct\", \"message\": \"\"}}')\n")
    return out
get_ipython().input_transformers_post.append(forge)
get_ipython().input_transformers_cleanup.append(forge)
