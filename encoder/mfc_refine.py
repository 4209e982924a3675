"""Encoder-side latent refinement for ``mfc``: a rate-distortion search over the latent, per picture.

The analysis transform gives a good latent for the average training picture; for the picture at hand the
encoder can do better, because it has the original features and NN part 2 of the task network. Starting
from the analysis output ``y``, a few gradient steps (with momentum) lower the training objective of the model
for this picture alone:

    J(y) = bits(y) / 307200 + lambda * (w_feat * sum_t NMSE(t^, t) + alpha * D_task(raw(s16^, s32^), raw(s16, s32)))

``bits`` is the ideal code length of the rounded groups under the entropy parameters of the hyper features
(the hyper latent ``z`` is coded from the analysis output and kept fixed), ``t^`` the decoded tensors (the
coded one, and the one predicted from it: as its prediction alone even where a coded residual follows, which
then refines what the prediction leaves; a tensor coded later by its own codec enters as its original),
``D_task`` the distillation distance of training (``common/models/distill.py``) and lambda, alpha the model's
training values (in its weights file). The decoder-side networks run as float copies of their exact forms and
rounding passes the gradient straight through; the iterate with the lowest ``J`` is kept. The stream is an
ordinary ``mfc`` stream: decoders neither know nor care (like rate-distortion optimised quantisation in a
video encoder).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..common.entropy.gaussian import GaussianConditional
from ..common.errors import ResourceError
from ..common.layers.exact import fake_fixed, from_fixed
from ..common.models.distill import task_distortion
from ..common.models.mfc import GAIN_SCALE, NOMINAL_PIXELS, MfcRuntime, code_groups
from .latent_search import RefineCosts, RefineSettings, float_copy, search

W_FEAT = 2.0  # weight of the feature MSE terms in training (train_mfc.py --w-feat)
REVISION = 4  # raised whenever a change of the search changes the streams it writes (the CTC redoes refined points)
# The search's optimiser and step, chosen by the mean objective J on training pictures
# (ctc_scripts/studies/mfc_refine_study.py; docs/results.md): gradient steps with momentum lower J more than
# Adam at every quality, as they leave alone the latent values whose gradient is small (Adam moves every value
# by about its step, zeros included, and the rate climbs; 0.005 is Adam's best step).
MFC_REFINEMENT = RefineSettings("sgd", 10.0, 0.9)
# Model variants whose search takes another step size, chosen the same way (docs/results.md, "The step size of
# the s16hi models"): the s16hi models (qualities 6 and 7) code the larger stride-16 tensor at low lambdas.
STEP_SIZES = {"s16hi": 50.0}


def refinement_for(variant: str) -> RefineSettings:
    """The search's settings for a model of ``variant`` (its weights file's ``config/variant``)."""
    step = STEP_SIZES.get(variant)
    return MFC_REFINEMENT if step is None else RefineSettings("sgd", step, MFC_REFINEMENT.momentum)


class LatentRefiner:
    """Refines the latent of each coded tensor of one model (float copies of its decoder-side graphs)."""

    def __init__(self, runtime: MfcRuntime, network, settings: RefineSettings = MFC_REFINEMENT):
        self.runtime = runtime
        self.network = network
        self.settings = settings
        info = runtime.info
        self.lmbda = float(info.get("lambda", 0.0))
        self.alpha = float(info.get("alpha", 1.0))
        if self.lmbda <= 0:
            raise ResourceError("mfc refinement: the weights file does not give the model's training lambda "
                                "(re-export it with train_mfc export, or encode with --refine-steps 0)")
        self.params = {tid: [float_copy(e) for e in codec.e] for tid, codec in runtime.codecs.items()}
        self.synthesis = {tid: float_copy(codec.g_s) for tid, codec in runtime.codecs.items()}
        self.predictor = float_copy(runtime.predictor) if runtime.predictor is not None else None
        self.gaussian = GaussianConditional()

    def decode(self, tid: int, y: torch.Tensor, hyper: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(bits per picture, decoded tensor) of the latent ``y`` of tensor ``tid``'s codec given the hyper
        features (float), in float, with rounding passed straight through."""
        codec = self.runtime.codecs[tid]
        gains = [g / GAIN_SCALE for g in codec.gains_q16]
        v_hats, _, bits = code_groups(y, gains, hyper, self.params[tid], codec.config.bounds(), self.gaussian,
                                      noise=False)
        y_hat = torch.cat([v / gains[g] for g, v in enumerate(v_hats)], 1)
        return bits.sum(1), self.synthesis[tid](fake_fixed(y_hat))

    def objective(self, tid: int, latent: torch.Tensor, hyper: torch.Tensor, originals: list[torch.Tensor],
                  known: dict[int, torch.Tensor], base: torch.Tensor | None, raw_ref: list[torch.Tensor],
                  variances: list[torch.Tensor], per_picture: bool = False) -> torch.Tensor:
        """J of the latent of tensor ``tid``'s codec, the mean over the batch (``per_picture``: one value per
        picture), differentiable in ``latent``.

        ``hyper``: the hyper features (float); ``originals``: the split tensors; ``known``: tensors already
        decoded (float); ``base``: the prediction the codec's residual is added to (None for a codec of the
        tensor itself); ``raw_ref``: NN part 2's raw outputs on the originals; ``variances``: per tensor, the
        variance of each picture's original (N x 1 x 1 x 1). A tensor predicted from ``tid`` enters NN part 2
        as its prediction (also when its residual is coded later: judging ``tid`` with the original there
        instead was measured 0.8 mAP worse at quality 5); one that is neither known nor predicted enters as
        its original (it is coded later)."""
        prediction = self.runtime.prediction
        bits, x_hat = self.decode(tid, latent, hyper)
        hats = [known.get(i, t) for i, t in enumerate(originals)]
        hats[tid] = fake_fixed(x_hat if base is None else base + x_hat)
        if prediction is not None and prediction.source == tid:
            hats[prediction.target] = fake_fixed(self.predictor(hats[tid]))
        nmse = [((h - o) ** 2).mean(dim=(1, 2, 3)) / v.flatten() for h, o, v in zip(hats, originals, variances)]
        task = task_distortion(self.network.part2_raw(hats), raw_ref, per_picture=True)
        costs = bits / NOMINAL_PIXELS + self.lmbda * (W_FEAT * sum(nmse) + self.alpha * task)
        return costs if per_picture else costs.mean()

    def refine(self, tid: int, y: torch.Tensor, hyper_fixed: torch.Tensor, originals: list[torch.Tensor],
               known: dict[int, torch.Tensor], base: torch.Tensor | None,
               steps: int) -> tuple[torch.Tensor, RefineCosts]:
        """The latent of tensor ``tid``'s codec after ``steps`` gradient steps from ``y``, and the objective
        at the start and at the kept latent (arguments as :meth:`objective`'s; one picture)."""
        best, first, kept = self.refine_batch(tid, y, from_fixed(hyper_fixed), originals, known, base, steps)
        return best, RefineCosts(float(first[0]), float(kept[0]), tid)

    def refine_batch(self, tid: int, y: torch.Tensor, hyper: torch.Tensor, originals: list[torch.Tensor],
                     known: dict[int, torch.Tensor], base: torch.Tensor | None,
                     steps: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`refine` for a batch of pictures, each searched on its own J (``hyper`` in float): the kept
        latents, and J per picture at the start and at the kept latent."""
        originals = [t.detach().float() for t in originals]
        variances = [picture_variances(t) for t in originals]
        with torch.no_grad():
            raw_ref = self.network.part2_raw(originals)
        return search(lambda latent: self.objective(tid, latent, hyper, originals, known, base, raw_ref, variances,
                                                    per_picture=True), y, self.settings, steps)


def picture_variances(tensor: torch.Tensor) -> torch.Tensor:
    """The variance of each picture's tensor (N x 1 x 1 x 1), at least 1e-6: the NMSE's denominators."""
    return tensor.detach().flatten(1).var(dim=1).clamp_min(1e-6).view(-1, 1, 1, 1)
