"""Tests for the factorized prior: training, frozen integer tables, coding round trips."""
import io

import numpy as np
import pytest
import torch

from icm.common.entropy.factorized import FactorizedPrior
from icm.common.errors import BitstreamError

CHANNELS = 6


def _sample(shape, generator):
    scales = torch.linspace(0.2, 8.0, CHANNELS).view(1, CHANNELS, 1, 1)
    laplace = torch.distributions.Laplace(0.0, 1.0)
    torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=generator)))
    return laplace.sample(shape) * scales + 0.3


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    model = FactorizedPrior(CHANNELS)
    main = torch.optim.Adam([p for n, p in model.named_parameters() if n != "quantiles"], lr=2e-2)
    aux = torch.optim.Adam([model.quantiles], lr=0.5)
    first = None
    for _ in range(60):
        y = _sample((4, CHANNELS, 8, 8), generator)
        _, likelihoods = model(y, training=True)
        rate = -torch.log2(likelihoods).mean()
        first = float(rate.detach()) if first is None else first
        main.zero_grad()
        rate.backward()
        main.step()
        aux_loss = model.loss()
        aux.zero_grad()
        aux_loss.backward()
        aux.step()
    model.rate_before, model.rate_after = first, float(rate.detach())
    assert model.update() is True
    return model


def test_training_reduces_the_rate(trained):
    assert trained.rate_after < trained.rate_before


def test_frozen_tables_are_integer_buffers(trained):
    state = trained.state_dict()
    assert state["_quantized_cdf"].dtype == torch.int32
    assert state["_cdf_length"].shape == (CHANNELS,) and state["_offset"].dtype == torch.int32
    for c in range(CHANNELS):
        cdf = state["_quantized_cdf"][c, : int(state["_cdf_length"][c])].numpy()
        assert cdf[0] == 0 and cdf[-1] == 1 << 16 and np.all(np.diff(cdf) >= 1)
        assert cdf.size <= 1025
    assert trained.update() is False  # already frozen


def test_round_trip_matches_eval_forward(trained):
    generator = torch.Generator().manual_seed(1)
    y = _sample((2, CHANNELS, 16, 12), generator)
    y[0, 2, 3, 4] = 1e6        # escape
    y[1, 0, 0, 0] = -2.5e4     # escape
    data = trained.compress(y)
    y_hat = trained.decompress(data, y.shape)
    expected, likelihoods = trained(y, training=False)
    assert torch.equal(y_hat, expected)
    coded = 8 * len(data)
    ideal = trained.ideal_bits(y)
    assert ideal - 32 <= coded <= 1.005 * ideal + 64


def test_decoder_uses_only_the_state_dict(trained):
    generator = torch.Generator().manual_seed(2)
    y = _sample((1, CHANNELS, 10, 10), generator)
    data = trained.compress(y)
    buffer = io.BytesIO()
    torch.save(trained.state_dict(), buffer)
    buffer.seek(0)
    decoder = FactorizedPrior(CHANNELS)
    decoder.load_state_dict(torch.load(buffer))
    assert torch.equal(decoder.decompress(data, y.shape), trained.decompress(data, y.shape))
    # Changing the float weights afterwards does not change decoding: the tables are frozen.
    with torch.no_grad():
        for matrix in decoder.matrices:
            matrix.add_(1.0)
    assert torch.equal(decoder.decompress(data, y.shape), trained.decompress(data, y.shape))


def test_empty_tensor_and_errors(trained):
    empty = torch.zeros(0, CHANNELS, 4, 4)
    assert trained.compress(empty) == b""
    assert trained.decompress(b"", empty.shape).shape == empty.shape
    with pytest.raises(ValueError):
        trained.compress(torch.zeros(1, CHANNELS + 1, 2, 2))
    with pytest.raises(ValueError):
        trained.decompress(b"", (1, CHANNELS + 1, 2, 2))
    with pytest.raises(RuntimeError):
        FactorizedPrior(CHANNELS).compress(torch.zeros(1, CHANNELS, 2, 2))
    data = trained.compress(torch.ones(1, CHANNELS, 8, 8) * 3)
    with pytest.raises(BitstreamError):
        trained.decompress(data[:-1], (1, CHANNELS, 8, 8))
