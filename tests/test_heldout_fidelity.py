"""The held-out fidelity study: real coding of held-out training pictures, label-free fidelity against the
network's own detections on the originals (a lossless-looking point scores near 100, a coarse one lower)."""
import json

import pytest

from icm.ctc_scripts.studies import heldout_fidelity


def test_fidelity_falls_with_the_rate(capsys):
    assert heldout_fidelity.main(["--limit", "1", "--point", "vvc-image:qp=12:preset=faster",
                                  "--point", "vvc-image:qp=50:resample=task:preset=faster"]) == 0
    rows = [json.loads(line[line.index("{"):]) for line in capsys.readouterr().out.splitlines() if "{" in line]
    fine, coarse = rows
    assert fine["bpp"] > coarse["bpp"] > 0
    assert fine["fidelity"] > 90 and fine["fidelity"] > coarse["fidelity"]
    assert fine["T"] < coarse["T"]


def test_a_bad_point_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        heldout_fidelity.main(["--point", "vvc-image:qp"])
    assert exit_info.value.code == 2
