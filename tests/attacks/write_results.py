# Write into the results folder: a forged results file and an extra file.
# expect q1: !correct
# expect q2: !correct
# %%
import os
os.makedirs("{RESULTS}/feedback", exist_ok=True)
open("{RESULTS}/results.csv", "w").write("learner,00_demo:q1,00_demo:q2\nwrite_results,correct,correct\n")
open("{RESULTS}/planted.txt", "w").write("planted")
