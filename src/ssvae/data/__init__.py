"""Data: MNIST-like datasets as in-memory tensors, binarization, minibatches."""
from ssvae.data.binarize import BINARIZATIONS, binarize, minibatches
from ssvae.data.datasets import DATASETS, ImageData, load_dataset, load_images
from ssvae.data.idx import read_idx
from ssvae.data.labels import balanced_labelled_subset

__all__ = ["BINARIZATIONS", "DATASETS", "ImageData", "balanced_labelled_subset", "binarize", "load_dataset",
           "load_images", "minibatches", "read_idx"]
