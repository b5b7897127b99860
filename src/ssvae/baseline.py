"""The supervised baseline: M2's classifier network trained on the labelled images only.

Same network as q_φ(y|x) (:class:`~ssvae.guides.Classifier`), same optimizer
(Adam) and learning rate, cross-entropy on the N labelled images, early stopped
on validation accuracy. Comparing it with M2 shows what the generative model and
the unlabelled images add.
"""
import copy

import numpy as np
import torch
import torch.nn.functional as F

from ssvae.data.binarize import minibatches
from ssvae.guides.m2 import Classifier


def train_baseline(x_labelled, y_labelled, x_val, y_val, num_classes=10, hidden=(500,), activation="softplus",
                   lr=3e-4, batch_size=100, max_epochs=500, patience=50, dynamic_binarization=False, seed=None):
    """Train the classifier; returns ``(classifier, info)`` with the best validation accuracy's weights.

    ``info`` has ``val_accuracy``, ``best_epoch`` and ``epochs`` (run before stopping).
    With a ``seed`` the initial weights, minibatches and binarization draws depend on it
    alone, not on what ran before, and the global RNG state is left as it was: a run's
    baseline is then the same whatever the model trained before it.
    """
    if seed is not None:
        devices = [x_labelled.device.index or 0] if x_labelled.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            return train_baseline(x_labelled, y_labelled, x_val, y_val, num_classes, hidden, activation, lr,
                                  batch_size, max_epochs, patience, dynamic_binarization)
    device = x_labelled.device
    net = Classifier(x_labelled.shape[-1], num_classes, hidden, activation).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    best = (-1.0, 0, None)
    epoch = 0
    for epoch in range(1, max_epochs + 1):
        net.train()
        for idx in minibatches(x_labelled.shape[0], batch_size, device=device):
            xb = x_labelled[idx]
            if dynamic_binarization:
                xb = torch.bernoulli(xb)
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(net(xb), y_labelled[idx]).backward()
            optimizer.step()
        accuracy = classifier_accuracy(net, x_val, y_val)
        if accuracy > best[0]:
            best = (accuracy, epoch, copy.deepcopy(net.state_dict()))
        elif epoch - best[1] >= patience:
            break
    net.load_state_dict(best[2])
    return net, {"val_accuracy": best[0], "best_epoch": best[1], "epochs": epoch}


@torch.no_grad()
def classifier_accuracy(net, x, y, batch_size=5000):
    net.eval()
    correct = sum((net(xb).argmax(-1) == yb).sum().item() for xb, yb in zip(x.split(batch_size), y.split(batch_size)))
    return correct / x.shape[0]


def label_spreading_accuracy(features, y, labelled, features_test, y_test, neighbours=10):
    """M1 + a transductive classifier: scikit-learn's ``LabelSpreading`` (k-NN graph) over the codes of
    all training images, labels on ``labelled`` only — the stand-in for the paper's TSVM.

    A test code is classified by the label mass spread to its ``neighbours`` nearest training codes.
    Codes in a part of the k-NN graph that holds no labelled code get no mass; a test code whose
    neighbours all lie there takes the class of its nearest labelled code instead (scikit-learn
    would divide 0 by 0 and call it class 0).

    Returns None if scikit-learn is not installed (``pip install 'ssvae[sklearn]'``).
    """
    try:
        from sklearn.semi_supervised import LabelSpreading
    except ImportError:
        return None
    features, features_test, labelled = features.cpu(), features_test.cpu(), labelled.cpu()
    targets = torch.full((features.shape[0],), -1, dtype=torch.long)
    targets[labelled] = y[labelled].cpu()
    model = LabelSpreading(kernel="knn", n_neighbors=neighbours, max_iter=100)
    model.fit(features.numpy(), targets.numpy())
    with np.errstate(invalid="ignore"):  # 0/0 for test codes without label mass: handled below
        probabilities = torch.as_tensor(model.predict_proba(features_test.numpy()))
    predicted = torch.as_tensor(model.classes_)[probabilities.argmax(-1)]
    no_mass = ~torch.isfinite(probabilities).all(-1)
    if no_mass.any():
        nearest = torch.cdist(features_test[no_mass], features[labelled]).argmin(-1)
        predicted[no_mass] = targets[labelled][nearest]
    return (predicted == y_test.cpu()).float().mean().item()


def latent_classifiers(features, y, labelled, features_val, y_val, features_test, y_test, num_classes,
                       hidden=(500,), activation="softplus", lr=3e-3, max_epochs=2000, patience=200, seed=None):
    """Test accuracies of classifiers on codes (M1 + classifier): ``linear`` (softmax regression) and
    ``mlp`` on the labelled codes (Adam at ``lr``, one step per epoch for N <= 100, so more epochs and
    patience than the pixel baseline), early stopped on validation; ``spreading`` (label spreading
    over all codes) where scikit-learn is installed. ``seed``: as in :func:`train_baseline`."""
    results = {}
    for name, layers in (("linear", ()), ("mlp", hidden)):
        net, _ = train_baseline(features[labelled], y[labelled], features_val, y_val, num_classes, layers,
                                activation, lr, max_epochs=max_epochs, patience=patience, seed=seed)
        results[name] = classifier_accuracy(net, features_test, y_test)
    spreading = label_spreading_accuracy(features, y, labelled, features_test, y_test)
    if spreading is not None:
        results["spreading"] = spreading
    return results
