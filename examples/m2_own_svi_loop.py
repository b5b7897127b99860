"""Your own SVI loop with ssvae's M2 model and guide.

The model p(y)p(z)p_θ(x|y,z) and the guide q_φ(y|x)q_φ(z|x,y) are plain Pyro
callables; this script trains them with Pyro's own ELBOs and a torch optimizer,
no ssvae trainer involved:

- labelled pairs (x, y): ``TraceMeanField_ELBO`` (closed-form KL for z);
- unlabelled x: ``TraceEnum_ELBO`` with the guide's y site enumerated in
  parallel (``config_enumerate``), i.e. the exact sum over the 10 classes;
- the paper's classification term α·CE on the labelled pairs.

θ (``model.parameters()``) and φ (``guide.parameters()``) get different
learning rates. Run: ``python examples/m2_own_svi_loop.py --steps 2000``.
"""
import argparse

import pyro
import torch
import torch.nn.functional as F
from pyro.infer import TraceEnum_ELBO, TraceMeanField_ELBO, config_enumerate

from ssvae import M2Guide, M2Model, check_model_guide
from ssvae.data import load_dataset
from ssvae.data.labels import balanced_labelled_subset


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--labels", type=int, default=100)
    p.add_argument("--train-size", type=int, default=10000)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=200, help="unlabelled images per step (labelled: half)")
    p.add_argument("--hidden", type=int, default=500)
    p.add_argument("--z-dim", type=int, default=50)
    p.add_argument("--alpha", type=float, default=10.0, help="α per training image (ssvae's default)")
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    pyro.set_rng_seed(0)

    data = load_dataset("fashion-mnist", data_dir=args.data_dir, train_size=args.train_size)
    labelled, unlabelled = balanced_labelled_subset(data.y_train, args.labels, data.num_classes, seed=0)
    x_l, y_l = data.x_train[labelled], data.y_train[labelled]
    x_u = data.x_train[unlabelled]

    model = M2Model(data.x_dim, args.z_dim, data.num_classes, hidden=[args.hidden])
    guide = M2Guide(data.x_dim, args.z_dim, data.num_classes, hidden=[args.hidden], classifier_hidden=[args.hidden])
    check_model_guide(model, guide, torch.bernoulli(x_l[:2]), y_l[:2])  # same sites, same shapes
    optimizer = torch.optim.Adam([{"params": model.parameters(), "lr": 1e-3},   # θ
                                  {"params": guide.parameters(), "lr": 1e-3}])  # φ
    labelled_elbo = TraceMeanField_ELBO(max_plate_nesting=1)
    unlabelled_elbo = TraceEnum_ELBO(max_plate_nesting=1)
    enumerated_guide = config_enumerate(guide, default="parallel")

    losses = []
    for step in range(args.steps):
        il = torch.randint(len(x_l), (min(args.batch_size // 2, len(x_l)),))
        iu = torch.randint(len(x_u), (args.batch_size,))
        xl, xu = torch.bernoulli(x_l[il]), torch.bernoulli(x_u[iu])  # dynamic binarization
        # -J^α / N: both ELBOs scaled to their full sets by the "data" plate, per training image
        loss = (labelled_elbo.differentiable_loss(model, guide, xl, y_l[il], num_data=len(x_l))
                + unlabelled_elbo.differentiable_loss(model, enumerated_guide, xu, num_data=len(x_u))
                ) / len(data.x_train)
        loss = loss + args.alpha * F.cross_entropy(guide.classify(xl), y_l[il])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    with torch.no_grad():
        accuracy = (guide.predict_proba(data.x_val).argmax(-1) == data.y_val).float().mean().item()
    print(f"validation accuracy of q(y|x) after {args.steps} steps with {args.labels} labels: {accuracy:.3f}")
    return {"accuracy": accuracy, "losses": losses}


if __name__ == "__main__":
    main()
