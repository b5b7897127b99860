"""Labelled subsets for semi-supervised learning: N labels, N / K per class, seeded."""
import torch

from ssvae.errors import SsvaeError


def balanced_labelled_subset(y, num_labels, num_classes=10, seed=0):
    """Indices of ``num_labels`` examples, the same number from each class, drawn with ``seed``.

    :returns: ``(labelled_indices, unlabelled_indices)``; the unlabelled set is
        every other training example (its labels are not used).
    """
    num_labels = int(num_labels)
    if num_labels < num_classes or num_labels % num_classes:
        raise SsvaeError(f"{num_labels} labels cannot be balanced over {num_classes} classes; "
                         f"use a multiple of {num_classes} (e.g. 100, 600, 1000, 3000)")
    if num_labels >= y.shape[0]:
        raise SsvaeError(f"{num_labels} labels leave no unlabelled images in a training set of {y.shape[0]}; "
                         "use fewer labels or more training images")
    generator = torch.Generator().manual_seed(int(seed))
    per_class = num_labels // num_classes
    chosen = []
    for k in range(num_classes):
        members = (y.cpu() == k).nonzero().squeeze(-1)
        if members.numel() < per_class:
            raise SsvaeError(f"class {k} has only {members.numel()} training images, fewer than the {per_class} "
                             f"labels per class that {num_labels} labels need; use fewer labels")
        chosen.append(members[torch.randperm(members.numel(), generator=generator)[:per_class]])
    labelled = torch.cat(chosen).sort().values
    mask = torch.ones(y.shape[0], dtype=torch.bool)
    mask[labelled] = False
    return labelled.to(y.device), mask.nonzero().squeeze(-1).to(y.device)
