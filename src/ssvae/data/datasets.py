"""MNIST-like image datasets as in-memory tensors, with the paper's splits.

Images are flattened to ``(N, 784)`` float32 in [0, 1]; labels are int64.
The training file is split into train (first 50k) and validation (last 10k);
the test file is the test set. Everything lives in memory as tensors, so a
minibatch is one indexing operation, never per-item Python work.

Where the files come from, in order:

1. ``data_dir`` (``--data-dir``): a directory holding ``train-images-idx3-ubyte``
   and friends (plain or ``.gz``), or torchvision's ``<root>/<Name>/raw`` layout;
2. for Fashion-MNIST, Debian's package ``dataset-fashion-mnist``
   (``/usr/share/datasets/fashion-mnist``);
3. torchvision's cache under ``root`` (``$SSVAE_DATA`` or ``~/.cache/ssvae``),
   downloading there when ``download`` is true and a network exists.
"""
import os
from dataclasses import dataclass, field

import torch

from ssvae.data.idx import find_idx, read_idx
from ssvae.errors import SsvaeError

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"

#: name -> (torchvision class name, human hint for getting the files)
DATASETS = {
    "mnist": ("MNIST", "on a machine with a network it downloads itself (drop --no-download)"),
    "fashion-mnist": (
        "FashionMNIST",
        "install Debian's package (sudo apt-get install dataset-fashion-mnist) "
        "or let torchvision download it on a machine with a network",
    ),
}

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def default_root():
    return os.environ.get("SSVAE_DATA", os.path.join(os.path.expanduser("~"), ".cache", "ssvae"))


@dataclass
class ImageData:
    """Train / validation / test splits of one image dataset, as tensors."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    image_shape: tuple = (28, 28)
    num_classes: int = 10
    source: str = field(default="", compare=False)

    @property
    def x_dim(self):
        return self.x_train.shape[-1]

    def split(self, name):
        """``(x, y)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if name not in ("train", "val", "test"):
            raise SsvaeError(f"unknown split {name!r}; choose train, val or test")
        return getattr(self, "x_" + name), getattr(self, "y_" + name)

    def to(self, device):
        for key in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
            setattr(self, key, getattr(self, key).to(device))
        return self


def _candidate_dirs(name, data_dir, root):
    cls = DATASETS[name][0]
    if data_dir is not None:
        yield data_dir
        yield os.path.join(data_dir, cls, "raw")
        return
    if name == "fashion-mnist":
        yield DEBIAN_FASHION_MNIST
    yield os.path.join(root, cls, "raw")


def _locate(name, part, data_dir, root):
    """Paths (images, labels) of ``part`` ("train"/"test"), or None."""
    for directory in _candidate_dirs(name, data_dir, root):
        paths = [find_idx(directory, stem) for stem in FILES[part]]
        if all(paths):
            return paths
    return None


def _download(name, root):
    import torchvision

    cls = getattr(torchvision.datasets, DATASETS[name][0])
    try:
        for train in (True, False):
            cls(root, train=train, download=True)
    except Exception as e:  # network errors come in many types
        raise SsvaeError(f"could not download {name} into {root}: {e}; {DATASETS[name][1]}, or pass --data-dir")


def load_images(images_path, labels_path):
    """Images (flattened, float in [0, 1]) and labels from one idx pair."""
    images, labels = read_idx(images_path), read_idx(labels_path).long()
    if images.dim() != 3 or labels.dim() != 1 or images.shape[0] != labels.shape[0]:
        raise SsvaeError(
            f"{images_path} / {labels_path} do not form an image dataset: shapes "
            f"{tuple(images.shape)} and {tuple(labels.shape)}, expected (N, H, W) and (N,)"
        )
    return images.reshape(images.shape[0], -1).float().div_(255.0), labels, tuple(images.shape[1:])


def load_dataset(name="fashion-mnist", data_dir=None, root=None, download=True, train_size=None, val_size=10000):
    """Load ``name`` ("mnist" or "fashion-mnist") with train/validation/test splits.

    :param data_dir: a directory of idx files to use instead of the defaults.
    :param train_size: keep only the first ``train_size`` training images (quick runs).
    :param val_size: images at the end of the training file held out for validation.
    """
    if name not in DATASETS:
        raise SsvaeError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if data_dir is not None and not os.path.isdir(data_dir):
        raise SsvaeError(f"--data-dir {data_dir} is not a directory; give a directory of idx files")
    root = root or default_root()
    parts = {part: _locate(name, part, data_dir, root) for part in FILES}
    if not all(parts.values()) and download and data_dir is None:
        _download(name, root)
        parts = {part: _locate(name, part, data_dir, root) for part in FILES}
    missing = [FILES[p][0] for p, paths in parts.items() if paths is None]
    if missing:
        where = data_dir if data_dir is not None else f"{root} (or {DEBIAN_FASHION_MNIST})"
        raise SsvaeError(
            f"{name} data not found: {', '.join(missing)} missing in {where}; "
            f"{DATASETS[name][1]}, or pass --data-dir DIR with the idx files"
        )
    x_full, y_full, shape = load_images(*parts["train"])
    x_test, y_test, test_shape = load_images(*parts["test"])
    if shape != test_shape:
        raise SsvaeError(f"train images are {shape} but test images are {test_shape}; use files of one dataset")
    if not 0 < val_size < x_full.shape[0]:
        raise SsvaeError(f"val_size={val_size} must be between 1 and {x_full.shape[0] - 1}")
    n_train = x_full.shape[0] - val_size
    if train_size is not None:
        if not 0 < train_size <= n_train:
            raise SsvaeError(f"--train-size {train_size} must be between 1 and {n_train} for {name}")
        n_keep = train_size
    else:
        n_keep = n_train
    return ImageData(
        name=name,
        x_train=x_full[:n_keep],
        y_train=y_full[:n_keep],
        x_val=x_full[n_train:],
        y_val=y_full[n_train:],
        x_test=x_test,
        y_test=y_test,
        image_shape=shape,
        num_classes=int(max(y_full.max(), y_test.max())) + 1,
        source=os.path.dirname(parts["train"][0]),
    )
