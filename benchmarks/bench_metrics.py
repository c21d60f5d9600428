"""How fast camlab.metrics evaluates maps at dataset scale (MaxBoxAcc V1 + V2: 100 thresholds x 3 IoUs).

    .venv/bin/python benchmarks/bench_metrics.py [--maps 10000] [--size 64] [--naive 200]

Compares, in one run on the same maps:
- camlab: tiled mosaics, one connected-components call per threshold per mosaic (``metrics.region_ious``);
- naive: the straightforward loop, one ``cv2.findContours`` per map per threshold, boxes by
  ``cv2.boundingRect`` (timed on ``--naive`` maps and scaled up), and checks both give the same accuracies.
Prints a markdown table and the machine. The CPU may be shared: run twice and look at the load average.
"""
import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from camlab import boxes, metrics  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import describe  # noqa: E402


def smooth_maps(count, size, seed=0):
    """Maps like CAMs: three Gaussian bumps of random place, width and height each, float32 (count, size, size)."""
    rng = np.random.default_rng(seed)
    grid = np.arange(size, dtype=np.float32)
    centres = rng.uniform(0, size, (count, 3, 2)).astype(np.float32)
    widths = rng.uniform(size / 16, size / 5, (count, 3, 1, 1)).astype(np.float32)
    heights = rng.uniform(0.3, 1.0, (count, 3, 1, 1)).astype(np.float32)
    dy = (grid[None, None, :, None] - centres[..., 0, None, None]) ** 2
    dx = (grid[None, None, None, :] - centres[..., 1, None, None]) ** 2
    return (heights * np.exp(-(dy + dx) / (2 * widths ** 2))).sum(axis=1)


def gt_near_the_peak(maps, seed=1):
    """A ground-truth box around each map's peak, jittered: some hits, some misses."""
    rng = np.random.default_rng(seed)
    count, size = maps.shape[:2]
    peak = np.stack(np.unravel_index(maps.reshape(count, -1).argmax(1), (size, size)), axis=1) / size
    half = rng.uniform(0.1, 0.3, (count, 2))
    centre = peak + rng.normal(0, 0.05, (count, 2))
    return np.clip(np.concatenate([centre - half, centre + half], axis=1), 0, 1)


def naive_ious(maps, gts, thresholds):
    """The loop a first implementation writes: findContours per map per threshold -> (largest, best) IoUs."""
    largest = np.zeros((len(thresholds), len(maps)))
    best = np.zeros_like(largest)
    for i, (cam, gt) in enumerate(zip(maps, gts)):
        span = cam.max() - cam.min()
        unit = (cam - cam.min()) / span if span > 0 else np.zeros_like(cam)
        h, w = cam.shape
        for j, t in enumerate(thresholds):
            contours, _ = cv2.findContours((unit > np.float32(t)).astype(np.uint8), cv2.RETR_EXTERNAL,
                                           cv2.CHAIN_APPROX_SIMPLE)
            if not contours:
                continue
            rects = np.array([cv2.boundingRect(c) for c in contours], dtype=np.float64)
            found = np.stack([rects[:, 1] / h, rects[:, 0] / w, (rects[:, 1] + rects[:, 3]) / h,
                              (rects[:, 0] + rects[:, 2]) / w], axis=1)
            ious = boxes.iou(found, gt)
            areas = [cv2.contourArea(c) for c in contours]
            best[j, i] = ious.max()
            largest[j, i] = ious[int(np.argmax(areas))]
    return largest, best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--naive", type=int, default=200, help="maps timed with the naive loop")
    args = parser.parse_args(argv)
    print(describe(f"OpenCV {cv2.__version__}", f"NumPy {np.__version__}"), flush=True)
    maps = smooth_maps(args.maps, args.size)
    gts = gt_near_the_peak(maps)
    thresholds = metrics.DEFAULT_CAM_THRESHOLDS

    metrics.region_ious(maps[:50], gts[:50], thresholds)  # warm up
    start, cpu = time.perf_counter(), time.process_time()
    largest, best = metrics.region_ious(maps, gts, thresholds)
    v1 = metrics.box_accuracy(largest, thresholds, (0.5,))["value"]
    v2 = metrics.box_accuracy(best, thresholds)["value"]
    fast, fast_cpu = time.perf_counter() - start, time.process_time() - cpu

    small = slice(0, args.naive)
    start, cpu = time.perf_counter(), time.process_time()
    naive_l, naive_b = naive_ious(maps[small], gts[small], thresholds)
    slow_per_map = (time.perf_counter() - start) / args.naive
    slow_cpu_per_map = (time.process_time() - cpu) / args.naive
    same_v2 = np.allclose(naive_b, best[:, small])
    # V1's "largest" is by pixel count here and by contour polygon area (cv2.contourArea) in the naive loop:
    # they can differ for thin regions at high thresholds, so count the cases and compare the accuracies.
    v1_cases = int(np.sum(~np.isclose(naive_l, largest[:, small])))
    v1_naive = metrics.box_accuracy(naive_l, thresholds, (0.5,))["value"]
    v1_ours = metrics.box_accuracy(largest[:, small], thresholds, (0.5,))["value"]

    native = smooth_maps(args.maps, 14, seed=2)
    start, cpu = time.perf_counter(), time.process_time()
    metrics.max_box_acc(native, gt_near_the_peak(native))
    native_s, native_cpu = time.perf_counter() - start, time.process_time() - cpu

    print(f"\n{args.maps} maps, 100 thresholds, MaxBoxAcc {v1:.3f}, MaxBoxAccV2 {v2:.3f} (V1 and V2 from one pass)\n")
    print("| approach | maps | wall s | CPU s | maps/s (wall) | speed-up (CPU) |")
    print("|---|---|---|---|---|---|")
    print(f"| naive findContours loop, {args.size}x{args.size} (scaled from {args.naive} maps) | {args.maps} | "
          f"{slow_per_map * args.maps:.1f} | {slow_cpu_per_map * args.maps:.1f} | {1 / slow_per_map:.0f} | 1.0x |")
    print(f"| camlab tiled components, {args.size}x{args.size} | {args.maps} | {fast:.1f} | {fast_cpu:.1f} | "
          f"{args.maps / fast:.0f} | {slow_cpu_per_map * args.maps / fast_cpu:.1f}x |")
    print(f"| camlab tiled components, 14x14 (feature resolution) | {args.maps} | {native_s:.1f} | "
          f"{native_cpu:.1f} | {args.maps / native_s:.0f} | - |")
    print(f"\nOn the first {args.naive} maps: V2 IoUs identical to the naive loop: {same_v2}; V1 differs in "
          f"{v1_cases} of {naive_l.size} (map, threshold) cases (largest by pixels vs by contour area), "
          f"MaxBoxAcc {v1_ours:.3f} here vs {v1_naive:.3f} naive.")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    return 0 if same_v2 else 1


if __name__ == "__main__":
    sys.exit(main())
