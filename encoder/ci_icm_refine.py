"""Encoder-side latent refinement for ``ci-icm``: a rate-distortion search over the latent, per picture.

The analysis transform gives a good latent for the average training picture; for the picture at hand the
encoder can do better, because it has the picture and the task network. Starting from the analysis output
``y``, gradient steps (with momentum) lower the model's stage-2 training objective for this picture alone:

    J(y) = bits(y) / 307200 + lambda_q * (w_mse * MSE(x^, x) + alpha * T(x^, x))

``bits`` is the ideal code length of the rounded groups under their entropy parameters (the hyper latent is
coded from the analysis output and kept), ``x^`` the plain decoded picture at the coded size (what the
stream's hash covers), ``T`` the distillation distance of training between the task network's raw outputs on
``x^`` and on ``x`` (``common/models/distill.py``) as the network will see them: ``x^`` through the decoder's
resize to the original size and the network's input resize (``task_view.py``), ``x`` the original picture
through the network's input resize (revision 2; revision 1 compared both at the coded size), and lambda_q,
w_mse, alpha the model's training values (its weights file's ``info``). The decoder-side networks run as float copies of their exact forms, rounding passes
the gradient straight through, and the iterate with the lowest ``J`` is kept (``latent_search.py``); the
steps are taken on ``J / lambda_q``, which has the same minimiser and gradients of about one size at every
quality, so that one step size serves them all. The
stream is an ordinary ``ci-icm`` stream: decoders neither know nor care.
"""
from __future__ import annotations

import torch

from ..common.entropy.gaussian import GaussianConditional
from ..common.errors import ResourceError
from ..common.layers.exact import fake_fixed, from_fixed
from ..common.models.channel_groups import GAIN_SCALE, code_groups
from ..common.models.ci_icm import NOMINAL_PIXELS, CiIcmRuntime
from ..common.models.distill import task_distortion
from .latent_search import RefineCosts, RefineSettings, float_copy, search
from .task_view import TaskView

REVISION = 2  # raised whenever a change of the search changes the streams it writes (the CTC redoes refined points)
# Training values of files exported before they were recorded in ``info`` (train_ci_icm.py's defaults).
DEFAULT_W_MSE, DEFAULT_ALPHA = 1.0, 5e-5
# The search's optimiser and step, chosen by the mean objective J on held-out training pictures
# (ctc_scripts/studies/ci_icm_refine_study.py; docs/ci-icm.md).
CI_ICM_REFINEMENT = RefineSettings("sgd", 50.0, 0.9)


class CiIcmRefiner:
    """Refines the latent of one model's pictures (float copies of its decoder-side graphs) for one task
    network (``net``: its raw-output module, e.g. ``load_task_network(...).net``)."""

    def __init__(self, runtime: CiIcmRuntime, net, settings: RefineSettings = CI_ICM_REFINEMENT):
        self.runtime = runtime
        self.net = net.eval().requires_grad_(False)
        self.settings = settings
        info = runtime.info
        self.lambdas = [float(v) for v in info.get("lambdas", [])]
        if len(self.lambdas) != runtime.config.qualities:
            raise ResourceError("ci-icm refinement: the weights file does not give the model's training lambdas "
                                "(re-export it with train_ci_icm export, or encode with --refine-steps 0)")
        self.w_mse = float(info.get("w_mse", DEFAULT_W_MSE))
        self.alpha = float(info.get("alpha", DEFAULT_ALPHA))
        groups = len(runtime.config.groups)
        self.params = [float_copy(runtime.graphs[f"e{g}"]) for g in range(groups)]
        self.synthesis = float_copy(runtime.graphs["g_s"])
        self.gaussian = GaussianConditional()

    def decode(self, y: torch.Tensor, hyper: torch.Tensor, quality: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(bits of the groups per picture, plain decoded picture) of the latent ``y`` at quality index
        ``quality``, given the hyper features (float), in float with rounding passed straight through."""
        config = self.runtime.config
        gains = torch.tensor([g / GAIN_SCALE for g in self.runtime.gains_q16[quality]], device=y.device).view(1, -1)
        coding = code_groups(y, gains, hyper, self.params, config.bounds(), self.gaussian, noise=False,
                             context=config.context, unit_params=True)
        _, rgb = self.synthesis(fake_fixed(coding.y_hat))
        return coding.bits.sum(1), fake_fixed(rgb)

    def objective(self, y: torch.Tensor, hyper: torch.Tensor, quality: int, x: torch.Tensor,
                  raw_ref: list[torch.Tensor], view: TaskView | None = None) -> torch.Tensor:
        """J per picture (see the module doc), differentiable in ``y``; ``view``: the task network's view of
        the decoded picture (None: the picture at the coded size)."""
        bits, x_hat = self.decode(y, hyper, quality)
        mse = (x_hat - x).square().mean(dim=(1, 2, 3))
        seen = x_hat if view is None else view(x_hat)
        task = task_distortion(self.net(seen), raw_ref, per_picture=True)
        return bits / NOMINAL_PIXELS + self.lambdas[quality] * (self.w_mse * mse + self.alpha * task)

    def refine(self, y: torch.Tensor, hyper_fixed: torch.Tensor, quality: int, x: torch.Tensor,
               steps: int, view: TaskView | None = None,
               reference: torch.Tensor | None = None) -> tuple[torch.Tensor, RefineCosts]:
        """The latent after ``steps`` gradient steps from ``y`` (one picture ``x`` in [0, 1] at the coded
        size), and J at the start and at the kept latent."""
        best, first, kept = self.refine_batch(y, from_fixed(hyper_fixed), quality, x, steps, view, reference)
        return best, RefineCosts(float(first[0]), float(kept[0]))

    def refine_batch(self, y: torch.Tensor, hyper: torch.Tensor, quality: int, x: torch.Tensor,
                     steps: int, view: TaskView | None = None,
                     reference: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`refine` for a batch of pictures at one quality (``hyper`` in float), each searched on its own
        J: the kept latents, and J per picture at the start and at the kept latent. ``reference``: the task
        network's input from the original picture (None: ``x``); ``view`` maps a decoded picture to it."""
        x = x.detach().float()
        with torch.no_grad():
            raw_ref = self.net(x if reference is None else reference.detach().float())
        # searched on J / lambda_q (the same minimiser), so that one step size suits every quality
        scale = self.lambdas[quality]
        kept, first, best = search(lambda latent: self.objective(latent, hyper, quality, x, raw_ref, view) / scale,
                                   y, self.settings, steps)
        return kept, first * scale, best * scale
