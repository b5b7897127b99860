r"""The semi-supervised objective of M2 (Kingma et al. 2014, Eqs. 6-9).

For a labelled pair (x, y), the ELBO with y observed:

.. math::

    \log p(x, y) \ge L(x, y) = E_{q(z|x,y)}[\log p(x|y,z) + \log p(y) + \log p(z) - \log q(z|x,y)].

For an unlabelled x, y is latent too, and summing it out exactly gives

.. math::

    \log p(x) \ge U(x) = \sum_y q(y|x)\, L(x, y) + H(q(y|x)).

Pyro computes U with :class:`pyro.infer.TraceEnum_ELBO`: the guide's y site is
enumerated (``"parallel"``: all K classes at once along a tensor dimension;
``"sequential"``: K separate runs), which gives exactly this sum. ``"sample"``
instead draws one y ~ q(y|x) and uses :class:`pyro.infer.Trace_ELBO`, a
score-function (REINFORCE) gradient for q(y|x): much noisier, for comparison.

Neither term trains the classifier q(y|x) on the labels, so Eq. 9 adds a
classification loss:

.. math::

    J^α = \sum_{(x,y) ∈ labelled} L(x, y) + \sum_{x ∈ unlabelled} U(x)
          + α\, E_{labelled}[-\log q(y|x)].

Per minibatch, the two sums are scaled to their full sets (N_l / B_l and
N_u / B_u, by the ``"data"`` plate) and the expectation is the mean over the
B_l labelled images, times α. The paper used α = 0.1·N (N = all training
images). The loss is ``-J^α`` (with the sign of the ELBOs flipped) — one number,
one backward pass, one optimizer step; the classifier runs once on the
labelled images (the guide does not run it where y is given).
"""
import torch
import torch.nn.functional as F
from pyro.infer import Trace_ELBO, TraceEnum_ELBO, TraceMeanField_ELBO, config_enumerate

from ssvae.errors import SsvaeError
from ssvae.inference.checks import check_model_guide

ENUMERATIONS = ("parallel", "sequential", "sample")


class SemiSupervisedELBO(torch.nn.Module):
    """The loss ``-J^α`` for an M2 model and guide (a torch module, like Pyro's ELBOModule).

    :param model: an :class:`~ssvae.models.M2Model` (or a model with the same sites).
    :param guide: an :class:`~ssvae.guides.M2Guide`.
    :param float alpha: weight of the classification loss (see module doc).
    :param str enumerate: ``"parallel"``, ``"sequential"`` or ``"sample"``.
    :param int num_particles: samples of z per image (vectorized).
    """

    def __init__(self, model, guide, alpha, enumerate="parallel", num_particles=1):
        super().__init__()
        if enumerate not in ENUMERATIONS:
            raise SsvaeError(f"unknown enumeration {enumerate!r}; choose one of {', '.join(ENUMERATIONS)}")
        if not alpha >= 0:
            raise SsvaeError(f"alpha must be >= 0, got {alpha}")
        self.model, self.guide, self.alpha, self.enumerate = model, guide, float(alpha), enumerate
        options = dict(num_particles=int(num_particles), vectorize_particles=int(num_particles) > 1,
                       max_plate_nesting=1)
        labelled = TraceMeanField_ELBO if getattr(guide, "has_analytic_kl", False) else Trace_ELBO
        self.labelled_elbo = labelled(**options)
        if enumerate == "sample":
            self.unlabelled_elbo, self.unlabelled_guide = Trace_ELBO(**options), guide
        else:
            self.unlabelled_elbo = TraceEnum_ELBO(**options)
            self.unlabelled_guide = config_enumerate(guide, default=enumerate)
        #: the last call's terms, per image: labelled ELBO, unlabelled ELBO, classification loss
        self.last_terms = {}

    def check(self, x_labelled, y_labelled, x_unlabelled, num_labelled=None, num_unlabelled=None):
        """Check that the guide fits the model on labelled and on unlabelled images."""
        check_model_guide(self.model, self.guide, x_labelled, y_labelled)
        check_model_guide(self.model, self.guide, x_unlabelled)

    def forward(self, x_labelled, y_labelled, x_unlabelled, num_labelled=None, num_unlabelled=None):
        loss_l = self.labelled_elbo.differentiable_loss(self.model, self.guide, x_labelled, y_labelled,
                                                        num_data=num_labelled)
        loss_u = self.unlabelled_elbo.differentiable_loss(self.model, self.unlabelled_guide, x_unlabelled,
                                                          num_data=num_unlabelled)
        classification = F.cross_entropy(self.guide.classify(x_labelled), y_labelled)
        self.last_terms = {
            "labelled_elbo": -loss_l.item() / (num_labelled or x_labelled.shape[0]),
            "unlabelled_elbo": -loss_u.item() / (num_unlabelled or x_unlabelled.shape[0]),
            "classification_loss": classification.item(),
        }
        return loss_l + loss_u + self.alpha * classification
