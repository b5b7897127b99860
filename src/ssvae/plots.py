"""Pictures of a run: image grids (torchvision) and curves/scatters (matplotlib).

Every picture is written atomically (temporary file, then rename).
"""
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torchvision.utils import save_image  # noqa: E402

from ssvae.inference.checkpoint import atomic_write  # noqa: E402


def save_grid(path, images, image_shape=(28, 28), nrow=8):
    """Save ``images`` (N, H*W) with values in [0, 1] as one PNG grid."""
    grid = images.detach().float().clamp(0, 1).reshape(-1, 1, *image_shape).cpu()
    buffer = io.BytesIO()
    save_image(grid, buffer, nrow=nrow, padding=2, pad_value=1.0, format="png")
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def save_figure(path, fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def learning_curves(path, history):
    """One small panel per reported quantity (ELBO terms, losses, accuracies) against the epoch."""
    columns = [c for c in history.columns if c not in ("epoch", "seconds")]
    ncols = min(3, len(columns))
    nrows = -(-len(columns) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
    for ax, column in zip(axes.flat, columns):
        ax.plot(history["epoch"], history[column], marker=".")
        ax.set(xlabel="epoch", title=column.replace("_", " "))
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    fig.tight_layout()
    save_figure(path, fig)


def latent_scatter(path, z, labels, title="posterior means E_q[z|x] of test images"):
    """Scatter of 2-D latent codes coloured by class label."""
    z, labels = z.detach().cpu().numpy(), labels.detach().cpu().numpy()
    fig, ax = plt.subplots(figsize=(6, 5.2))
    points = ax.scatter(z[:, 0], z[:, 1], c=labels, cmap="tab10", s=3, alpha=0.7)
    fig.colorbar(points, ax=ax, label="label")
    ax.set(xlabel="z[0]", ylabel="z[1]", title=title)
    save_figure(path, fig)


def reconstruction_pairs(originals, reconstructions, per_row=8):
    """Interleave rows: ``per_row`` originals, then their reconstructions, and so on."""
    rows = []
    for start in range(0, originals.shape[0], per_row):
        rows += [originals[start:start + per_row], reconstructions[start:start + per_row]]
    return torch.cat(rows)


def confusion_matrix(path, counts):
    """Heat map of a (true x predicted) count matrix."""
    counts = counts.cpu().numpy()
    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    image = ax.imshow(counts, cmap="Blues")
    for (i, j), value in zip(((i, j) for i in range(counts.shape[0]) for j in range(counts.shape[1])),
                             counts.flatten().tolist()):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=6,
                color="white" if value > counts.max() / 2 else "black")
    fig.colorbar(image, ax=ax)
    ax.set(xlabel="predicted class", ylabel="true class", title="test confusion matrix",
           xticks=range(counts.shape[1]), yticks=range(counts.shape[0]))
    save_figure(path, fig)


def project_2d(z):
    """The first two principal components of ``z`` (N, D)."""
    z = z.detach().cpu()
    centred = z - z.mean(0)
    _, _, v = torch.pca_lowrank(centred, q=2, center=False)
    return centred @ v[:, :2]
