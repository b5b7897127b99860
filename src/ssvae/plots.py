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
    """ELBO per epoch (train and validation) and the validation ELBO's two terms."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(history["epoch"], history["train_elbo"], label="train ELBO", marker=".")
    if "val_elbo" in history:
        ax1.plot(history["epoch"], history["val_elbo"], label="validation ELBO", marker=".")
    ax1.set(xlabel="epoch", ylabel="nats per image", title="ELBO (higher is better)")
    ax1.legend()
    if "val_log_lik" in history:
        ax2.plot(history["epoch"], history["val_log_lik"], label="E_q[log p(x|z)]", marker=".")
        ax2.plot(history["epoch"], -history["val_kl"], label="-KL(q(z|x) || p(z))", marker=".")
        ax2.set(xlabel="epoch", ylabel="nats per image", title="validation ELBO terms")
        ax2.legend()
    save_figure(path, fig)


def latent_scatter(path, z, labels, title="posterior means E_q[z|x] of test images"):
    """Scatter of 2-D latent codes coloured by class label."""
    z, labels = z.detach().cpu(), labels.detach().cpu()
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
