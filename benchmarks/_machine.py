"""What the benchmarks ran on, in one line: cores, CPU model, load average (the CPU may be shared)."""
import os
import platform


def describe(*extra):
    """'2 cores (AMD EPYC), load average 1.0 / 0.8 / 0.5, CPython 3.11.7' plus any ``extra`` strings."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    parts = [f"{cores} cores ({cpu})", f"load average {load}",
             f"{platform.python_implementation()} {platform.python_version()}", *extra]
    return ", ".join(parts)
