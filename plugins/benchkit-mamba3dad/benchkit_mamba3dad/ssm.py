"""The Mamba feature adapter (paper section 2.2.1): a linear-time state-space scan over the ordered slots.

Recurrence (Eqs. 13-14): ``h_t = A h_{t-1} + B x_t``, ``q_t = C h_t + D x_t``. The paper makes ``A`` a scaled
orthonormal operator (a learnable scale initialised to 0.9, spectral norm at most 0.95). A real orthogonal matrix is
unitarily diagonalisable with eigenvalues ``exp(i theta_k)``, so in its eigenbasis ``A = rho * diag(exp(i theta))``
and the basis change is absorbed into ``B`` and ``C``. We therefore run a *diagonal complex* SSM with ``N`` complex
states (``2N`` real numbers, the paper's ``S_h``): same operator family, elementwise recurrence, linear cost.

Discretisation: with ``selective=False`` (default, the paper's time-invariant adapter) the recurrence is already
discrete, ``A_bar = lambda = rho * exp(i theta)``, ``B_bar = B``. With ``selective=True`` (Mamba-style ablation) each
step gets an input-dependent step size ``delta_t = 1 + softplus(w . x_t + b) >= 1`` and the zero-order-hold
transition ``A_bar_t = lambda ** delta_t = exp(delta_t * log(lambda))``, with Mamba's first-order simplification
``B_bar_t = delta_t * B``; ``delta_t >= 1`` keeps ``|A_bar_t| = rho ** delta_t <= 0.95``.

The scan is chunked (as in Mamba-2's SSD form): inside a chunk of ``c`` steps the outputs are one masked
``c x c`` decay-weighted sum, and chunks are chained by carrying the state. Cost is ``O(L * c * N)``: linear in the
sequence length ``L`` for fixed ``c``. Hand-written because the CUDA ``mamba_ssm`` kernels are not available here.

The paper also layer-normalises the recurrent state and gates the recurrent path against the residual path:
``q_t = D x_t + sigmoid(g) * C LN(h_t)``; the LayerNorm acts on the scan's output, so the scan itself stays linear.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def reference_scan(decay: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """Naive step-by-step ``h_t = decay_t * h_{t-1} + inputs_t`` (``h_0 = 0``) over dim 1; the test oracle."""
    h = torch.zeros_like(inputs[:, 0])
    out = []
    for t in range(inputs.shape[1]):
        h = decay[:, t] * h + inputs[:, t]
        out.append(h)
    return torch.stack(out, dim=1)


def chunked_scan(log_decay: torch.Tensor, inputs: torch.Tensor, chunk: int = 16) -> torch.Tensor:
    """``h_t = exp(log_decay_t) * h_{t-1} + inputs_t`` for ``(B, L, N)`` complex tensors, in linear time.

    Within a chunk, ``h_t = sum_{k<=t} exp(cum_t - cum_k) u_k + exp(cum_t) h_start`` with ``cum`` the running sum
    of log-decays; differences are masked *before* ``exp`` so that no overflowing entry reaches the gradient.
    """
    b, length, n = inputs.shape
    pad = (-length) % chunk
    if pad:
        log_decay = torch.cat([log_decay, log_decay.new_zeros(b, pad, n)], dim=1)
        inputs = torch.cat([inputs, inputs.new_zeros(b, pad, n)], dim=1)
    n_chunks = (length + pad) // chunk
    cum = log_decay.reshape(b, n_chunks, chunk, n).cumsum(dim=2)  # (B, C, c, N)
    u = inputs.reshape(b, n_chunks, chunk, n)
    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=inputs.device).tril()  # [t, k]: k <= t
    diff = cum.unsqueeze(3) - cum.unsqueeze(2)  # (B, C, t, k, N)
    diff = torch.where(causal[None, None, :, :, None], diff, torch.zeros_like(diff))
    weights = torch.exp(diff) * causal[None, None, :, :, None]
    local = torch.einsum("bctkn,bckn->bctn", weights, u)  # each chunk from a zero start state
    carry_in = torch.exp(cum)  # how a chunk's start state reaches each of its steps
    states = []
    h = inputs.new_zeros(b, n)
    for c in range(n_chunks):  # chain chunks: L / chunk cheap elementwise steps
        states.append(local[:, c] + carry_in[:, c] * h.unsqueeze(1))
        h = states[-1][:, -1]
    return torch.stack(states, dim=1).reshape(b, n_chunks * chunk, n)[:, :length]


def time_invariant_scan(log_lambda: torch.Tensor, inputs: torch.Tensor, chunk: int = 16) -> torch.Tensor:
    """`chunked_scan` for a decay that is the same at every step (``log_lambda`` of shape ``(N,)``).

    The in-chunk weights ``lambda ** (t - k)`` then depend only on ``t - k``: one ``(c, c, N)`` table shared by all
    chunks and batch items instead of a ``(B, L/c, c, c, N)`` tensor of complex ``exp`` (the training step's largest
    cost on CPU). Same linear cost and result.
    """
    b, length, n = inputs.shape
    pad = (-length) % chunk
    if pad:
        inputs = torch.cat([inputs, inputs.new_zeros(b, pad, n)], dim=1)
    n_chunks = (length + pad) // chunk
    steps = torch.arange(chunk, device=inputs.device)
    lag = steps[:, None] - steps[None, :]  # [t, k]
    causal = lag >= 0
    table = torch.exp(lag.clamp_min(0).to(log_lambda.real.dtype)[:, :, None] * log_lambda) * causal[:, :, None]
    u = inputs.reshape(b, n_chunks, chunk, n)
    local = torch.einsum("tkn,bckn->bctn", table, u)
    carry_in = torch.exp((steps + 1).to(log_lambda.real.dtype)[:, None] * log_lambda)  # (c, N)
    states = []
    h = inputs.new_zeros(b, n)
    for c in range(n_chunks):
        states.append(local[:, c] + carry_in * h.unsqueeze(1))
        h = states[-1][:, -1]
    return torch.stack(states, dim=1).reshape(b, n_chunks * chunk, n)[:, :length]


class MambaAdapter(nn.Module):
    """Diagonal complex SSM adapter; ``state_dim`` real numbers of state (paper ``S_h = 256``)."""

    def __init__(self, dim: int, state_dim: int = 256, rho_init: float = 0.9, rho_max: float = 0.95,
                 selective: bool = False, chunk: int = 16) -> None:
        super().__init__()
        if state_dim % 2:
            raise ValueError(f"state_dim must be even (pairs of real numbers form complex states), got {state_dim}")
        n = state_dim // 2
        self.rho_max, self.selective, self.chunk = rho_max, selective, chunk
        self.rho_logit = nn.Parameter(torch.tensor(math.log(rho_init / (rho_max - rho_init))))  # rho = max*sigmoid
        self.theta = nn.Parameter(torch.rand(n) * math.pi)  # eigen-angles of the orthonormal operator
        self.B = nn.Parameter(nn.init.kaiming_normal_(torch.empty(2, n, dim)) / math.sqrt(2))  # real, imag parts
        self.C = nn.Linear(state_dim, dim, bias=False)
        self.D = nn.Linear(dim, dim, bias=False)
        nn.init.kaiming_normal_(self.C.weight)
        nn.init.kaiming_normal_(self.D.weight)
        self.state_norm = nn.LayerNorm(state_dim)
        self.gate = nn.Parameter(torch.zeros(dim))
        self.step = nn.Linear(dim, 1) if selective else None

    @property
    def rho(self) -> torch.Tensor:
        return self.rho_max * torch.sigmoid(self.rho_logit)

    def log_lambda(self) -> torch.Tensor:
        return torch.complex(torch.log(self.rho).expand_as(self.theta), self.theta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, L, dim)`` ordered slots -> ``(B, L, dim)`` context-enhanced slots ``q``."""
        u = torch.complex(x @ self.B[0].T, x @ self.B[1].T)  # B x_t, (B, L, N)
        if self.step is not None:
            delta = 1 + nn.functional.softplus(self.step(x))  # (B, L, 1), >= 1
            h = chunked_scan(self.log_lambda().expand_as(u) * delta, u * delta, self.chunk)
        else:
            h = time_invariant_scan(self.log_lambda(), u, self.chunk)
        state = self.state_norm(torch.cat([h.real, h.imag], dim=-1))
        return self.D(x) + torch.sigmoid(self.gate) * self.C(state)
