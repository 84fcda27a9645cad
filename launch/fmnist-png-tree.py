#!/usr/bin/python3
"""Writes Fashion-MNIST (Debian's dataset-fashion-mnist IDX files) as a class-folder PNG tree:
OUT/train/<label>_<name>/<index>.png for the 60,000 training images and OUT/val/... for the
10,000 test images (the test set is the val split). Class folders are prefixed with the label
number ("0_T-shirt_top", ..., "9_Ankle_boot") so that torchvision's ImageFolder, which sorts class
folders by name, gives each class Fashion-MNIST's label; file names are the image's index in its
IDX file, zero-padded, so sorting the files keeps the IDX order within a class. PNGs are 8-bit
grayscale, the pixels exactly the IDX bytes. Rerunning skips images already written.

Usage: launch/fmnist-png-tree.py OUT [--idx-dir /usr/share/datasets/fashion-mnist]
Needs python3-pil (PIL); /usr/bin/python3 on this machine has it.
"""
import argparse
import gzip
import os
import struct
import sys

from PIL import Image

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def folder_name(label):
    return "%d_%s" % (label, CLASSES[label].replace("/", "_").replace(" ", "_"))


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return shape, data[4 + 4 * dims:]


def find(idx_dir, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(idx_dir, name)
        if os.path.exists(p):
            return p
    sys.exit("fmnist-png-tree: no %s[.gz] in %s" % (stem, idx_dir))


def write_split(idx_dir, prefix, out_dir):
    (n, h, w), pixels = read_idx(find(idx_dir, prefix + "-images-idx3-ubyte"))
    (n_labels,), labels = read_idx(find(idx_dir, prefix + "-labels-idx1-ubyte"))
    if n != n_labels:
        sys.exit("fmnist-png-tree: %d images but %d labels (%s)" % (n, n_labels, prefix))
    for label in range(len(CLASSES)):
        os.makedirs(os.path.join(out_dir, folder_name(label)), exist_ok=True)
    written = 0
    for i in range(n):
        label = labels[i]
        path = os.path.join(out_dir, folder_name(label), "%05d.png" % i)
        if os.path.exists(path):
            continue
        img = Image.frombytes("L", (w, h), pixels[i * h * w:(i + 1) * h * w])
        tmp = path + ".tmp"
        img.save(tmp, format="PNG")
        os.replace(tmp, path)  # a killed run leaves no half-written PNG under a final name
        written += 1
    return n, written


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--idx-dir", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    for prefix, split in (("train", "train"), ("t10k", "val")):
        n, written = write_split(args.idx_dir, prefix, os.path.join(args.out, split))
        print("%s: %d images (%d written now) in %s" % (split, n, written, os.path.join(args.out, split)))


if __name__ == "__main__":
    main()
