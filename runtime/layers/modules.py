"""Torch modules for the layers PyTorch lacks in the exact form LayerLab needs, and weight init.

Everything here imports only torch and math: the exporter copies these classes verbatim into the
standalone Python files it writes, so they must stay self-contained.
"""
import math

import torch
from torch import nn


class GlobalAvgPool(nn.Module):
    """Mean over every spatial dimension: (N, C, *spatial) -> (N, C), or over time for channels_last."""

    def __init__(self, channels_last: bool = False):
        super().__init__()
        self.channels_last = channels_last

    def forward(self, x):
        if self.channels_last:
            return x.mean(dim=tuple(range(1, x.dim() - 1)))
        return x.mean(dim=tuple(range(2, x.dim())))


class Reshape(nn.Module):
    """Reshape every sample to `shape` (the batch dimension is kept)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape(x.shape[0], *self.shape)


class RepeatVector(nn.Module):
    """(batch, features) -> (batch, n, features): the same vector at every step."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def forward(self, x):
        return x.unsqueeze(1).expand(-1, self.n, -1)


class Permute(nn.Module):
    """Reorder the non-batch dimensions; `dims` uses PyTorch numbering, so the batch is 0."""

    def __init__(self, dims):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x):
        return x.permute(0, *self.dims)


class _SequenceOutput:
    """Shared by the recurrent layers: pick all steps, or the final state of each direction."""

    def _select(self, out, h_n):
        if self.return_sequences:
            return out
        if self.bidirectional:
            return torch.cat([h_n[-2], h_n[-1]], dim=-1)
        return h_n[-1]


class RNN(nn.RNN, _SequenceOutput):
    """Batch-first Elman RNN returning all steps or the last hidden state."""

    def __init__(self, *args, return_sequences: bool = False, **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequences = return_sequences

    def forward(self, x):
        out, h_n = super().forward(x)
        return self._select(out, h_n)


class LSTM(nn.LSTM, _SequenceOutput):
    """Batch-first LSTM returning all steps or the last hidden state."""

    def __init__(self, *args, return_sequences: bool = False, **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequences = return_sequences

    def forward(self, x):
        out, (h_n, _) = super().forward(x)
        return self._select(out, h_n)


class GRU(nn.GRU, _SequenceOutput):
    """Batch-first GRU returning all steps or the last hidden state."""

    def __init__(self, *args, return_sequences: bool = False, **kwargs):
        super().__init__(*args, batch_first=True, **kwargs)
        self.return_sequences = return_sequences

    def forward(self, x):
        out, h_n = super().forward(x)
        return self._select(out, h_n)


def causal_mask(length_q: int, length_k: int, device) -> torch.Tensor:
    """Boolean mask hiding later positions (True = may not attend)."""
    return torch.ones(length_q, length_k, dtype=torch.bool, device=device).triu(1)


class MultiheadAttention(nn.MultiheadAttention):
    """Batch-first attention; key defaults to the query (self-attention) and value to the key."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, kdim=None, vdim=None, causal=False):
        super().__init__(embed_dim, num_heads, dropout=dropout, kdim=kdim, vdim=vdim,
                         batch_first=True)
        self.causal = causal

    def forward(self, query, key=None, value=None):
        return self.attend(query, key, value, need_weights=False)[0]

    def attend(self, query, key=None, value=None, need_weights=True):
        """nn.MultiheadAttention's (output, weights averaged over the heads) for these inputs."""
        key = query if key is None else key
        value = key if value is None else value
        mask = causal_mask(query.shape[1], key.shape[1], query.device) if self.causal else None
        return super().forward(query, key, value, attn_mask=mask, need_weights=need_weights)


class TransformerEncoderLayer(nn.TransformerEncoderLayer):
    """Batch-first encoder layer with an optional causal mask."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu",
                 norm_first=False, causal=False):  # torch's defaults: an export leaves them out
        super().__init__(d_model, nhead, dim_feedforward=dim_feedforward, dropout=dropout,
                         activation=activation, norm_first=norm_first, batch_first=True)
        self.causal = causal

    def forward(self, src):
        if self.causal:
            mask = causal_mask(src.shape[1], src.shape[1], src.device)
            return super().forward(src, src_mask=mask, is_causal=True)
        return super().forward(src)


class PositionalEncoding(nn.Module):
    """Adds position information to (N, L, E) sequences: fixed sinusoids or a learned table."""

    def __init__(self, d_model, max_len, kind="sinusoidal"):
        super().__init__()
        self.kind = kind
        if kind == "learned":
            self.pe = nn.Parameter(torch.randn(max_len, d_model) * 0.02)
        else:
            position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
            div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32)
                            * (-math.log(10000.0) / d_model))
            table = torch.zeros(max_len, d_model + d_model % 2)
            table[:, 0::2] = torch.sin(position * div)
            table[:, 1::2] = torch.cos(position * div)
            self.register_buffer("pe", table[:, :d_model], persistent=False)

    def forward(self, x):
        return x + self.pe[: x.shape[1]]


class Add(nn.Module):
    """Element-wise sum of all inputs (skip connections)."""

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Multiply(nn.Module):
    """Element-wise product of all inputs (gating)."""

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Concat(nn.Module):
    """Concatenate all inputs along `dim` (PyTorch numbering, batch is 0)."""

    def __init__(self, dim=1):
        super().__init__()
        self.dim = dim

    def forward(self, *xs):
        return torch.cat(xs, dim=self.dim)


class RBM(nn.Module):
    """A restricted Boltzmann machine: visible units v, binary hidden units h, no links within a
    layer. `forward` gives p(h = 1 | v), the hidden units' probabilities, so RBMs stack (a deep
    belief net) and feed ordinary layers. Training by contrastive divergence uses
    `free_energy`, `visible_mean` and `gibbs`.
    """

    #: Weights the forward pass does not read: the way back to the visible units
    generative_only = ("visible_bias",)

    def __init__(self, visible: int, hidden: int, gaussian_visible: bool = False):
        super().__init__()
        # small random weights, zero biases (Hinton's practical guide to training RBMs)
        self.weight = nn.Parameter(torch.randn(hidden, visible) * 0.01)
        self.bias = nn.Parameter(torch.zeros(hidden))
        self.visible_bias = nn.Parameter(torch.zeros(visible))
        self.gaussian_visible = gaussian_visible

    def forward(self, v):
        return torch.sigmoid(nn.functional.linear(v, self.weight, self.bias))

    def visible_mean(self, h):
        """E[v | h]: probabilities for Bernoulli visible units, the mean for Gaussian ones."""
        a = nn.functional.linear(h, self.weight.t(), self.visible_bias)
        return a if self.gaussian_visible else torch.sigmoid(a)

    def free_energy(self, v):
        """F(v), per sample: p(v) is proportional to exp(-F(v))."""
        hidden = nn.functional.softplus(nn.functional.linear(v, self.weight, self.bias)).sum(-1)
        if self.gaussian_visible:  # unit-variance Gaussian visible units
            return 0.5 * ((v - self.visible_bias) ** 2).sum(-1) - hidden
        return -(v @ self.visible_bias) - hidden

    @torch.no_grad()
    def gibbs(self, v, steps: int = 1):
        """`steps` rounds of block Gibbs sampling from `v`: sample h given v, then v given h."""
        for _ in range(steps):
            h = torch.bernoulli(self.forward(v))
            mean = self.visible_mean(h)
            v = mean + torch.randn_like(mean) if self.gaussian_visible else torch.bernoulli(mean)
        return v


def init_weights(module: nn.Module, scheme: str) -> None:
    """Re-initialise `module` with a named scheme ("default" keeps PyTorch's own initialisation).

    Weight matrices, kernels and tables (2+ dims) get the scheme; biases start at zero; 1-D scales
    (norm layers) keep their default, except under "zeros".
    """
    if scheme == "default":
        return
    with torch.no_grad():
        for name, param in module.named_parameters():
            if "bias" in name.rsplit(".", 1)[-1] or scheme == "zeros":
                param.zero_()
            elif param.dim() < 2:
                continue
            elif scheme == "normal":
                nn.init.normal_(param, 0.0, 0.05)
            elif scheme == "uniform":
                nn.init.uniform_(param, -0.05, 0.05)
            elif scheme == "xavier_uniform":
                nn.init.xavier_uniform_(param)
            elif scheme == "xavier_normal":
                nn.init.xavier_normal_(param)
            elif scheme == "kaiming_uniform":
                nn.init.kaiming_uniform_(param, nonlinearity="relu")
            elif scheme == "kaiming_normal":
                nn.init.kaiming_normal_(param, nonlinearity="relu")
            elif scheme == "orthogonal":
                nn.init.orthogonal_(param)
            else:
                raise ValueError(f"unknown init scheme '{scheme}'")
