"""Part domination, measured: CAM of the default model (class in the paint) beside the emblem model (class in
the emblem only), each on its own camlab_cars config's test split (the same 800 cars, image by image).

Per model, in one run:
- ``camlab.metrics.evaluate_localization`` (CAM, GT-known) against the car's box: top-1 accuracy, GT-known
  Loc@0.5 (box of the largest region above 0.2 x max), MaxBoxAccV2; and the same against the emblem's box;
- where the map's mass sits: the share of the CAM (at the model's 96 x 96 input, each map summing to 1) inside
  the emblem's disc box and inside the car's box (the energy-based pointing game's share);
- how large the CAM box is: the mean area of the 0.2 x max box over the car box's area.

Run: .venv/bin/python benchmarks/bench_part_domination.py [--max-images N] [--write-card]
``--write-card`` stores the table under "part_domination" in the emblem model's card.
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _machine import describe  # noqa: E402
from camlab import boxes, cam, data, metrics, models  # noqa: E402


def box_mask(box, height, width):
    """Boolean (height, width) mask of the pixels whose centres lie in normalized box [ymin, xmin, ymax, xmax]."""
    rows = (np.arange(height) + 0.5) / height
    cols = (np.arange(width) + 0.5) / width
    ymin, xmin, ymax, xmax = box
    return ((rows >= ymin) & (rows <= ymax))[:, None] & ((cols >= xmin) & (cols <= xmax))[None, :]


def where_the_mass_is(model, test, batch_size=64, max_images=None):
    """Mean CAM share inside the emblem box and inside the car box, and mean CAM-box area / car-box area."""
    size = tuple(model.input_shape[1:3])
    split = test.take(max_images) if max_images else test
    in_emblem, in_car, area_ratio = [], [], []
    def prepare(item):
        image, label = data.normalize_and_resize_img(item, size)
        return image, label, item["bbox"], item["emblem_bbox"]

    for images, labels, cars, emblems in split.map(prepare).batch(batch_size):
        maps = cam.compute_maps(model, images.numpy(), "cam", class_index=labels.numpy()).maps
        for cam_map, car, emblem in zip(maps, cars.numpy(), emblems.numpy()):
            total = float(cam_map.sum())
            in_emblem.append(float(cam_map[box_mask(emblem, *cam_map.shape)].sum()) / total if total else 0.0)
            in_car.append(float(cam_map[box_mask(car, *cam_map.shape)].sum()) / total if total else 0.0)
            found = boxes.cam_to_bbox(cam_map, 0.2)
            car_area = (car[2] - car[0]) * (car[3] - car[1])
            area_ratio.append(0.0 if found is None else float((found[2] - found[0]) * (found[3] - found[1]) / car_area))
    return {"cam_mass_in_emblem": float(np.mean(in_emblem)), "cam_mass_in_car_box": float(np.mean(in_car)),
            "cam_box_area_over_car_box": float(np.mean(area_ratio))}


def measure(name, max_images=None):
    model = models.load_pretrained(name)
    test, info = data.load(models.PRETRAINED_DATASETS[name], split="test")
    emblem_as_box = test.map(lambda item: {**item, "bbox": item["emblem_bbox"]})
    car = metrics.evaluate_localization(model, test, methods="cam", max_images=max_images).rows[0]
    part = metrics.evaluate_localization(model, emblem_as_box, methods="cam", max_images=max_images).rows[0]
    row = {"model": name, "dataset": f"{info.name}/{info.config_name} {info.version}", "images": car["images"],
           "test_accuracy": car["top1_acc"], "cam_gt_known_loc": car["loc_acc"],
           "cam_maxboxacc_v2": car["max_box_acc_v2"], "cam_maxboxacc_v2_vs_emblem_box": part["max_box_acc_v2"]}
    row.update(where_the_mass_is(model, test, max_images=max_images))
    return row


COLUMNS = (("test_accuracy", "test acc"), ("cam_gt_known_loc", "CAM GT-known loc"),
           ("cam_maxboxacc_v2", "CAM MaxBoxAccV2 (car box)"),
           ("cam_maxboxacc_v2_vs_emblem_box", "MaxBoxAccV2 vs emblem box"),
           ("cam_mass_in_emblem", "CAM mass in emblem box"), ("cam_mass_in_car_box", "CAM mass in car box"),
           ("cam_box_area_over_car_box", "CAM box area / car box area"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-images", type=int, default=None, help="only the first N test images")
    parser.add_argument("--write-card", action="store_true", help="store the table in the emblem model's card")
    args = parser.parse_args(argv)
    machine = describe()
    rows = [measure(name, args.max_images) for name in ("default", "emblem")]
    print(f"\nMachine: {machine}\n")
    print("| model (class carried by) | " + " | ".join(label for _, label in COLUMNS) + " |")
    print("|---|" + "---:|" * len(COLUMNS))
    for row, carrier in zip(rows, ("paint + emblem", "emblem only")):
        print(f"| {row['model']} ({carrier}), {row['dataset']} | " + " | ".join(f"{row[k]:.3f}" for k, _ in COLUMNS) + " |")
    drop = rows[0]["cam_maxboxacc_v2"] - rows[1]["cam_maxboxacc_v2"]
    print(f"\nMaxBoxAccV2 falls by {drop:.3f} from the default model to the emblem model (target: >= 0.10).")
    if args.write_card:
        path = models.card_path("emblem")
        card = json.loads(path.read_text())
        card["part_domination"] = {
            "command": "python benchmarks/bench_part_domination.py --write-card",
            "rows": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()} for row in rows],
            "maxboxacc_v2_drop_vs_default": round(drop, 4),
            "mass_rule": "share of each CAM (at the model input, 96 x 96) inside the box, averaged over images",
            "machine": machine,
        }
        path.write_text(json.dumps(card, indent=1) + "\n")
        print(f"written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
