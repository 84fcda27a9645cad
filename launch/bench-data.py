#!/usr/bin/python3
"""Our training loader against torchvision's on the same images, in one run: `ofa bench data` on
the packed set (read, decode, RandomResizedCrop, flip, colour jitter, normalise: images/s with one
worker thread and with --workers threads), then torchvision's ImageFolder + RandomResizedCrop(R) +
RandomHorizontalFlip + ToTensor + Normalize over the unpacked class-folder tree the set was packed
from, single-process (one intra-op thread: per core) and through a DataLoader with --workers
worker processes. Both read the first --images images in ImageFolder order (the packed order).
Prints images/s and the ratio ours / torchvision at one core and at --workers.

Rates count the images after the first batch, from the moment it arrived: start-up (DataLoader
worker processes, thread pools) is left out on both sides.

Usage: launch/bench-data.py --packed PREFIX --tree DIR [--resolution 224] [--images 2048]
                            [--workers N] [--batch 64] [--ofa build/bin/ofa]
DIR is the tree's root (DIR/train/<class>/...) or the split folder itself.
"""
import argparse
import os
import re
import subprocess
import sys
import time

import torch
import torchvision
from torchvision import transforms


def ours(args):
    cmd = [args.ofa, "bench", "data", "--source", args.packed, "--resolution", str(args.resolution),
           "--images", str(args.images), "--threads", str(args.workers), "--batch", str(args.batch)]
    print("+", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    print(out, end="")
    one = float(re.search(r"1 worker thread:\s+([\d.]+) images/s", out).group(1))
    many = float(re.search(r"%d worker threads:\s+([\d.]+) images/s" % args.workers, out).group(1))
    if "identical at 1 and" in out and ": yes" not in out:
        sys.exit("bench-data: our batches differ between thread counts")
    return one, many


def torchvision_rate(args, workers):
    root = os.path.join(args.tree, "train") if os.path.isdir(os.path.join(args.tree, "train")) else args.tree
    tf = transforms.Compose([
        transforms.RandomResizedCrop(args.resolution),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    full = torchvision.datasets.ImageFolder(root, transform=tf)
    n = min(args.images, len(full))
    ds = torch.utils.data.Subset(full, range(n))
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=False, num_workers=workers)
    it = iter(loader)
    first = next(it)  # start-up excluded: the clock starts when the first batch is there
    t0 = time.perf_counter()
    images = 0
    for x, _ in it:
        images += x.shape[0]
    dt = time.perf_counter() - t0
    assert first[0].shape[-1] == args.resolution
    return images / dt if images else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packed", required=True, help="what ofa bench data --source takes (the packed prefix)")
    ap.add_argument("--tree", required=True, help="the class-folder tree the set was packed from")
    ap.add_argument("--resolution", type=int, default=224)
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--ofa", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "bin", "ofa"))
    args = ap.parse_args()
    print("bench-data: %d images at %d, batch %d, %d CPUs in the affinity mask, load %s" %
          (args.images, args.resolution, args.batch, len(os.sched_getaffinity(0)),
           open("/proc/loadavg").read().split()[0]))
    our_one, our_many = ours(args)
    torch.set_num_threads(1)  # one core: ToTensor/Normalize would otherwise use intra-op threads
    tv_one = torchvision_rate(args, 0)
    tv_many = torchvision_rate(args, args.workers)
    print("torchvision ImageFolder + RandomResizedCrop + flip + ToTensor + Normalize (torchvision %s):" %
          torchvision.__version__)
    print("  single process, 1 thread: %9.1f images/s" % tv_one)
    print("  DataLoader, %d workers:   %9.1f images/s" % (args.workers, tv_many))
    print("ratio ours / torchvision: %.2fx per core (1 thread vs 1 process), %.2fx with %d workers" %
          (our_one / tv_one, our_many / tv_many, args.workers))


if __name__ == "__main__":
    main()
