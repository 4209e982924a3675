"""The registry entries of the built-in coding tools: the anchors ``vvc-image`` and ``vvc-feature``, and the
learned feature codec ``mfc``. A new tool adds its entry here (or in a module named by ``ICM_EXTRA_TOOLS``);
see ``docs/adding-a-tool.md``."""
from ..models.zoo import ModelFamily, ModelSet
from .entry import RateParameter, Setting, ToolEntry

QP = RateParameter("qp", default=37, minimum=0, maximum=63, help="Quantisation parameter of the inner codec.")
INNER_SUMMARY = "{tool} qp {qp} (inner codec {inner.encoder}, preset {inner.preset})"

VVC_IMAGE = ToolEntry(
    name="vvc-image",
    encoder="icm.anchors.vvc_image:VvcImageEncoder",
    decoder="icm.anchors.vvc_image:VvcImageDecoder",
    rate=QP,
    summary=INNER_SUMMARY,
    description="VVC image anchor: the picture coded by VVC intra, optionally at another size",
    settings=(
        Setting("resample", None, "Code the picture at another size: 'task' (the task network's input size), "
                                  "WxH or a scale such as 0.5."),
        Setting("colour_matrix", "bt601", "RGB to YCbCr matrix.", choices=("bt601", "bt709"), option=False),
        Setting("full_range", False, "Full-range samples instead of limited (video) range.", kind=bool,
                option=False),
    ),
    default_anchor=True,
)

VVC_FEATURE = ToolEntry(
    name="vvc-feature",
    encoder="icm.anchors.vvc_feature:VvcFeatureEncoder",
    decoder="icm.anchors.vvc_feature:VvcFeatureDecoder",
    rate=QP,
    summary=INNER_SUMMARY,
    description="VVC feature anchor: the split tensors tiled into monochrome pictures coded by VVC",
    settings=(
        Setting("feature_bit_depth", 10, "Sample bit depth of the normalised feature tensors (10: the only depth "
                "syntax version 3 defines, docs/decoding.md D.4.1).", kind=int, minimum=10, maximum=10,
                option=False),
    ),
)

MFC = ToolEntry(
    name="mfc",
    encoder="icm.encoder.mfc:MfcEncoder",
    decoder="icm.decoder.mfc:MfcDecoder",
    rate=RateParameter("quality", default=3, minimum=1, maximum=9,
                       help="Rate point of a learned tool (its model's quality); higher = more bits."),
    summary="{tool} model {model} quality {quality}, refinement {refine_steps} steps",
    description="learned multi-scale feature codec for split inference, with importance-ordered channel groups",
    settings=(
        Setting("refine_steps", 40, "Encoder-side latent refinement: gradient steps per coded tensor; 0 = off.",
                kind=int, minimum=0, maximum=1000),
    ),
    models=ModelSet(
        tool="mfc",
        families=(
            ModelFamily("mfc", 0, "mfc_q{quality}.pt", "the main models"),
            ModelFamily("noxs", 10, "mfc-noxs_q{quality}.pt", "ablation without cross-scale prediction"),
            ModelFamily("nogroup", 20, "mfc-nogroup_q{quality}.pt", "ablation without importance groups"),
            ModelFamily("short", 30, "mfc-short_q{quality}.pt", "the ablations' reference (same training)"),
        ),
        loader="icm.common.models.mfc:load_runtime",
    ),
    groups=True,
)

NPP_VVC = ToolEntry(
    name="npp-vvc",
    encoder="icm.encoder.npp_vvc:NppVvcEncoder",
    decoder="icm.anchors.vvc_image:VvcImageDecoder",  # exactly vvc-image's decoding: no weights needed
    rate=QP,
    summary=INNER_SUMMARY + ", preprocessor {model}",
    description="neural preprocessor (QP-adaptive) before the VVC image anchor; any VVC decoder decodes it",
    settings=VVC_IMAGE.settings,
    models=ModelSet(
        tool="npp-vvc",
        families=(
            ModelFamily("npp", 0, "npp.npz", "the QP-adaptive preprocessor (one file for every QP)"),
            ModelFamily("noproxy", 10, "npp-noproxy.npz", "ablation trained without the proxy codec "
                                                          "(identity straight-through)"),
            ModelFamily("fixed", 20, "npp-fixed.npz", "ablation without QP adaptivity (one fixed model)"),
            ModelFamily("notask", 30, "npp-notask.npz", "ablation trained without the task term"),
        ),
        loader="icm.encoder.npp_vvc:load_runtime",
        qualities=(1,),
    ),
)


class OneFileModelSet(ModelSet):
    """A model set whose family serves every quality from one file: without that file the tool's weights are
    missing (a ResourceError naming the file, exit status 7), rather than the quality not being offered."""

    def check_quality(self, family, quality) -> None:
        self.model_id(family, quality)
        if not self.available(family):
            self.find_file(family, quality)
        super().check_quality(family, quality)


CI_ICM = ToolEntry(
    name="ci-icm",
    encoder="icm.encoder.ci_icm:CiIcmEncoder",
    decoder="icm.decoder.ci_icm:CiIcmDecoder",
    rate=RateParameter("quality", default=3, minimum=1, maximum=6,
                       help="Rate point of a learned tool (its model's quality); higher = more bits."),
    summary="{tool} model {model} quality {quality}, refinement {refine_steps} steps",
    description="learned image codec for machines at the task network's input size, with importance-ordered "
                "channel groups and task-specific decoder adapters",
    settings=(
        Setting("refine_steps", 10, "Encoder-side latent refinement: gradient steps per picture; 0 = off.",
                kind=int, minimum=0, maximum=1000),
    ),
    models=OneFileModelSet(
        tool="ci-icm",
        families=(
            ModelFamily("ci-icm", 0, "ci-icm.npz", "the main model (one file for every quality)"),
            ModelFamily("short", 10, "ci-icm-short.npz", "the ablations' reference: the main structure on the "
                                                         "ablations' shorter schedule"),
            ModelFamily("baseline", 20, "ci-icm-baseline.npz", "the hyperprior baseline: one group, one gain, no "
                                                               "order loss, no channel context"),
            ModelFamily("noorder", 30, "ci-icm-noorder.npz", "ablation without the channel order loss"),
            ModelFamily("nogain", 40, "ci-icm-nogain.npz", "ablation without per-group gains"),
            ModelFamily("noctx", 50, "ci-icm-noctx.npz", "ablation without the channel-group context"),
        ),
        loader="icm.common.models.ci_icm:load_runtime",
        qualities=tuple(range(1, 7)),
    ),
    groups=True,
    adapters=True,
)

BUILTIN_TOOLS = (VVC_IMAGE, VVC_FEATURE, MFC, NPP_VVC, CI_ICM)
