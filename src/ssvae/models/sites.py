"""Names of sample sites and plates, so that two models can live in one Pyro program.

Pyro identifies a sample site by its name: two instances of our model called in
one program would both sample ``"z"`` and open ``pyro.plate("data")``, which
Pyro rejects ("Multiple sample sites named 'z'"), and two PyroModules with the
same root name share their param-store keys. Giving each instance a ``prefix``
names its sites ``"<prefix>/z"``, ``"<prefix>/x"``, ``"<prefix>/data"`` (the
convention of :func:`pyro.contrib.autoname.scope`) and, unless a ``name`` is
given, its parameters ``"<prefix>_<default name>.*"``. The matching guide takes
the same ``prefix``.
"""
from ssvae.errors import SsvaeError


def root_name(prefix, name, default):
    """The PyroModule root name: ``name`` if given, else ``default`` (prefixed with ``prefix`` if any)."""
    if name is not None:
        return name
    return f"{prefix}_{default}" if prefix else default


class SiteNames:
    """Mixin giving a module a ``prefix`` and :meth:`site` to name its sample sites and plates."""

    def _set_prefix(self, prefix):
        if prefix is not None and (not isinstance(prefix, str) or not prefix or "/" in prefix):
            raise SsvaeError(f"prefix must be a non-empty string without '/', got {prefix!r}")
        self.prefix = prefix

    def site(self, name):
        """The full name of site ``name`` (``"z"``, ``"x"``, ``"y"``, ``"data"``) in this instance."""
        return f"{self.prefix}/{name}" if self.prefix else name


def check_latent(value, size, site):
    """Raise a clear error if a latent site's value (e.g. replayed from a guide) is not ``(..., size)``."""
    if value.dim() < 1 or value.shape[-1] != size:
        raise SsvaeError(f"site {site!r} has shape {tuple(value.shape)} but the model expects (..., {size}); "
                         f"the guide must sample {site!r} with the model's z_dim={size}")
