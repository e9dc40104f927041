"""Complex tensors in the PyTorch recorder: a complex tensor is recorded as its real and
imaginary parts (two real numbers per element), so that its L2 norm is the complex norm and a
purely imaginary tensor is not recorded as zeros. A Fourier layer with ``torch.cfloat``
weights, as a Fourier Neural Operator writes it, is recorded into a Parquet file read back
with pyarrow."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from conftest import assert_stats_close, find, numpy_stats, read_parquet_trace, row_stats

import dltrace.pytorch as dltrace

STATS = ("mean", "std", "min", "max", "l2_norm", "zero_fraction", "nan_count", "inf_count", "numel")


def as_dict(stats):
    return dict(zip(STATS, stats))


def parts(tensor):
    """The float64 numpy reference: real and imaginary parts side by side."""
    return numpy_stats(torch.view_as_real(tensor.detach().resolve_conj()).to(torch.float64).numpy())


class TestComplexTensorStats:
    @pytest.mark.parametrize("n", [300, 20_000])  # batched at the step's end and reduced alone
    def test_complexTensor_isItsRealAndImaginaryParts(self, n):
        g = torch.Generator().manual_seed(n)
        t = torch.complex(torch.randn(n, generator=g), 3.0 * torch.randn(n, generator=g))
        stats = as_dict(dltrace.tensor_stats(t))
        assert stats["numel"] == 2 * n
        assert stats["l2_norm"] == pytest.approx(float(torch.linalg.vector_norm(t.to(torch.cdouble))),
                                                 rel=1e-6)
        assert_stats_close(stats, parts(t), "complex %d" % n)

    def test_purelyImaginary_isNotZeros(self):
        t = torch.complex(torch.zeros(64), torch.linspace(1.0, 2.0, 64))
        stats = as_dict(dltrace.tensor_stats(t))
        assert stats["zero_fraction"] == 0.5  # the real parts only
        assert stats["max"] == 2.0 and stats["l2_norm"] > 10.0

    def test_conjugateView_isResolved(self):
        g = torch.Generator().manual_seed(7)
        t = torch.randn(50, dtype=torch.cfloat, generator=g).conj()
        assert t.is_conj()
        stats = as_dict(dltrace.tensor_stats(t))
        assert_stats_close(stats, parts(t), "conjugate")
        assert stats["mean"] == pytest.approx(float(parts(t)["mean"]), abs=1e-6)

    def test_noCastWarning(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            dltrace.tensor_stats(torch.randn(10, dtype=torch.cfloat))
            dltrace.tensor_stats(torch.randn(9000, dtype=torch.cdouble))

    def test_sparseComplex_elementsNotStoredAreTwoZerosEach(self):
        values = torch.tensor([1 + 2j, -3 + 0.5j], dtype=torch.cfloat)
        t = torch.sparse_coo_tensor(torch.tensor([[1, 4]]), values, (6,))
        stats = as_dict(dltrace.tensor_stats(t))
        assert stats["numel"] == 12
        assert_stats_close(stats, parts(t.to_dense()), "sparse complex")


class Spectral(nn.Module):
    """One Fourier layer (the lowest ``modes`` of an rfft times complex weights, plus a real
    pointwise skip: two weight tensors, one complex and one real) and a real linear head."""

    def __init__(self, width=4, modes=5, points=32):
        super().__init__()
        self.modes = modes
        scale = 1 / (width * width)
        self.weights1 = nn.Parameter(scale * torch.rand(width, width, modes, dtype=torch.cfloat))
        self.weight_skip = nn.Parameter(scale * torch.randn(width, width))
        self.head = nn.Linear(width * points, 1)

    def forward(self, x):  # x: (batch, width, points)
        x_ft = torch.fft.rfft(x)
        out_ft = torch.zeros(x.shape[0], x.shape[1], x.shape[-1] // 2 + 1, dtype=torch.cfloat)
        out_ft[:, :, :self.modes] = torch.einsum("bix,iox->box", x_ft[:, :, :self.modes],
                                                 self.weights1)
        y = torch.fft.irfft(out_ft, n=x.shape[-1]) + torch.einsum("bix,io->box", x,
                                                                   self.weight_skip)
        return self.head(torch.relu(y).flatten(1))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fourier = Spectral()

    def forward(self, x):
        return self.fourier(x)


def test_fourierLayerWithComplexWeights_recordsTheComplexNorm(tmp_path):
    torch.manual_seed(0)
    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    path = tmp_path / "fno.parquet"
    g = torch.Generator().manual_seed(1)
    own = [model.fourier.weights1, model.fourier.weight_skip]  # complex and real
    weights, grads = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "casting complex values to real" anywhere
        with dltrace.attach(model, str(path), optimizer=opt, task="regression",
                            flush_every=1) as rec:
            for _ in range(3):
                x = torch.randn(8, 4, 32, generator=g)
                y = torch.randn(8, 1, generator=g)
                opt.zero_grad()
                loss = nn.functional.mse_loss(model(x), y)
                loss.backward()
                opt.step()
                weights.append([p.detach().clone() for p in own])
                grads.append([p.grad.detach().clone() for p in own])
                rec.step(loss, inputs=x, targets=y)
    rows, _ = read_parquet_trace(path)

    def flat(tensors):
        return np.concatenate([torch.view_as_real(t).double().numpy().reshape(-1)
                               if t.is_complex() else t.double().numpy().reshape(-1)
                               for t in tensors])

    for step in range(3):
        for phase, tensors in (("gradient", grads[step]), ("weight", weights[step])):
            recorded = row_stats(find(rows, step, "fourier", phase))
            reference = numpy_stats(flat(tensors))
            assert recorded["numel"] == 2 * 4 * 4 * 5 + 4 * 4
            # the real tensor's zeros are its own, not imaginary parts a complex cast added
            assert recorded["zero_fraction"] == reference["zero_fraction"]
            assert_stats_close(recorded, reference, "step %d %s" % (step, phase))
