"""The DiT flow-matching action expert (src/model/dit.ts), in PyTorch.

    c      = MLP(sinusoid(tau))                           timestep conditioning [B, d]
    x      = MLP(mask * a_tau) + pos[H]                   action tokens [B, H, d]
    block  : x += g1 * SelfAttn(mod(LN(x), s1, b1))       over the H action tokens of a sample
             x += g2 * CrossAttn(mod(LN(x), s2, b2), ctx) to the sample's context rows
             x += g3 * MLP(mod(LN(x), s3, b3))            GELU, tanh approximation
    out    = linear(mod(LN(x), sF, bF))                   [B, H, K]

with mod(h, s, b) = h (1 + s) + b, LN a LayerNorm without affine parameters, and every
block's (shift, scale, gate) triples from one linear of silu(c), split into 9 pieces (6
without context) in the order (self, [cross,] mlp) x (shift, scale, gate): adaLN-Zero.
The modulation linears and the output linear start at zero, so the initial velocity is
exactly 0.

Names, shapes and the [in, out] layout (x @ W) are the workbench's, so the `dit.*`
tensors of a post-training checkpoint load without transposes; parameters are registered
in a ParameterDict with "." replaced by "__", in the engine's definition order.

Cross-attention: sample b attends to rows [start[b], end[b]) of the backbone's hidden
states. The rows are gathered into a padded [B, L, d] block (L the longest context) and
the padding keys are masked out with -inf before the softmax; the engine adds -1e9, whose
exp underflows to exactly 0 as well, so both give the same weights (its 'dense' and
'batched' layouts are the same function too).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DitConfig:
    d_model: int
    heads: int
    layers: int
    horizon: int
    action_dim: int
    context_dim: int
    mlp_hidden: int
    time_freq_dim: int
    time_scale: float = 1000.0
    norm_eps: float = 1e-6


def dit_config_from_json(d: Mapping) -> DitConfig:
    """A checkpoint's dit.json (src/model/dit.ts DitConfig, camelCase) as a DitConfig."""
    return DitConfig(
        d_model=int(d["dModel"]),
        heads=int(d["heads"]),
        layers=int(d["layers"]),
        horizon=int(d["horizon"]),
        action_dim=int(d["actionDim"]),
        context_dim=int(d["contextDim"]),
        mlp_hidden=int(d["mlpHidden"]),
        time_freq_dim=int(d["timeFreqDim"]),
        time_scale=float(d.get("timeScale", 1000.0)),
        norm_eps=float(d.get("normEps", 1e-6)),
    )


def timestep_embedding(tau: torch.Tensor, dim: int, time_scale: float = 1000.0, max_period: float = 10000.0) -> torch.Tensor:
    """[B, dim] = (cos(t f_i), sin(t f_i)), t = time_scale tau, f_i = max_period^(-i / (dim/2)),
    computed in float64 like the engine's CPU-side timestepEmbedding."""
    half = dim // 2
    i = torch.arange(half, dtype=torch.float64, device=tau.device)
    f = torch.exp(-math.log(max_period) * i / half)
    arg = (tau.to(torch.float64) * time_scale)[:, None] * f[None, :]
    return torch.cat([torch.cos(arg), torch.sin(arg)], dim=-1)


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """src/engine/reference/elementwise.ts gelu: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))


class Dit(nn.Module):
    def __init__(self, cfg: DitConfig, prefix: str = "dit"):
        super().__init__()
        if cfg.d_model % cfg.heads != 0:
            raise ValueError(f"dit.dModel ({cfg.d_model}) must be divisible by dit.heads ({cfg.heads})")
        if cfg.time_freq_dim % 2 != 0:
            raise ValueError(f"dit.timeFreqDim must be even, got {cfg.time_freq_dim}")
        self.cfg = cfg
        self.prefix = prefix
        self.params = nn.ParameterDict()
        self.names: list[str] = []
        d = cfg.d_model
        P = prefix
        # The engine's definition order (src/model/dit.ts constructor).
        self._linear(f"{P}.time.w1", cfg.time_freq_dim, d)
        self._add(f"{P}.time.b1", (d,), 0.0)
        self._linear(f"{P}.time.w2", d, d)
        self._add(f"{P}.time.b2", (d,), 0.0)
        self._linear(f"{P}.action_in.w1", cfg.action_dim, d)
        self._add(f"{P}.action_in.b1", (d,), 0.0)
        self._linear(f"{P}.action_in.w2", d, d)
        self._add(f"{P}.action_in.b2", (d,), 0.0)
        self._add(f"{P}.pos_embed", (cfg.horizon, d), std=0.02)
        if cfg.context_dim > 0:
            self._linear(f"{P}.context_proj.w", cfg.context_dim, d)
            self._add(f"{P}.context_proj.b", (d,), 0.0)
        for l in range(cfg.layers):
            p = f"{P}.blocks.{l}"
            self._add(f"{p}.ada.w", (d, self.pieces * d), 0.0)
            self._add(f"{p}.ada.b", (self.pieces * d,), 0.0)
            for a in ("self_attn", "cross_attn") if cfg.context_dim > 0 else ("self_attn",):
                for w in ("wq", "wk", "wv", "wo"):
                    self._linear(f"{p}.{a}.{w}", d, d)
            self._linear(f"{p}.mlp.fc1", d, cfg.mlp_hidden)
            self._add(f"{p}.mlp.fc1_b", (cfg.mlp_hidden,), 0.0)
            self._linear(f"{p}.mlp.fc2", cfg.mlp_hidden, d)
            self._add(f"{p}.mlp.fc2_b", (d,), 0.0)
        self._add(f"{P}.final.ada.w", (d, 2 * d), 0.0)
        self._add(f"{P}.final.ada.b", (2 * d,), 0.0)
        self._add(f"{P}.action_out.w", (d, cfg.action_dim), 0.0)
        self._add(f"{P}.action_out.b", (cfg.action_dim,), 0.0)

    @property
    def pieces(self) -> int:
        return 9 if self.cfg.context_dim > 0 else 6

    def _add(self, name: str, shape: tuple, fill: Optional[float] = None, std: float = 0.0) -> None:
        t = torch.full(shape, float(fill)) if fill is not None else torch.randn(shape) * std
        self.params[name.replace(".", "__")] = nn.Parameter(t)
        self.names.append(name)

    def _linear(self, name: str, fan_in: int, fan_out: int) -> None:
        """ParamStore.linear: N(0, 1/fan_in) (a checkpoint usually replaces it)."""
        self._add(name, (fan_in, fan_out), std=1.0 / math.sqrt(fan_in))

    def p(self, name: str) -> torch.Tensor:
        return self.params[f"{self.prefix}.{name}".replace(".", "__")]

    def named(self) -> Dict[str, nn.Parameter]:
        """Workbench name -> parameter, in definition order."""
        return {n: self.params[n.replace(".", "__")] for n in self.names}

    def decayed(self, name: str) -> bool:
        """src/engine/optim.ts decayGroups, which PostTrainer uses: every tensor of rank >= 2
        decays (pos_embed included; unlike pre-training's ParamStore.decayed)."""
        return self.named()[name].dim() >= 2

    def load_named(self, tensors: Mapping[str, torch.Tensor], strict: bool = True) -> None:
        """Copies the `dit.*` tensors of `tensors` in; every DiT name must be there with its
        shape (other names, e.g. the backbone's, are ignored; strict rejects other dit.* ones)."""
        own = self.named()
        missing = [n for n in own if n not in tensors]
        extra = [n for n in tensors if n.startswith(f"{self.prefix}.") and n not in own]
        if missing or (strict and extra):
            raise ValueError(f"checkpoint DiT parameters do not match the DiT config: missing {missing[:5]}, unexpected {extra[:5]}")
        with torch.no_grad():
            for n, p in own.items():
                t = tensors[n]
                if tuple(t.shape) != tuple(p.shape):
                    raise ValueError(f"parameter '{n}': checkpoint shape {list(t.shape)}, model {list(p.shape)}")
                p.copy_(t.to(p.dtype))

    # ---- forward -----------------------------------------------------------------------

    def _modulate(self, x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        h = F.layer_norm(x, (self.cfg.d_model,), eps=self.cfg.norm_eps)
        return h * (1 + scale) + shift

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """[B, N, d] -> [B, heads, N, hd]."""
        B, N, d = x.shape
        return x.reshape(B, N, self.cfg.heads, d // self.cfg.heads).transpose(1, 2)

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_valid: Optional[torch.Tensor]) -> torch.Tensor:
        """q [B, h, M, hd], k and v [B, h, N, hd], key_valid [B, N] -> [B, M, d]."""
        scores = q @ k.transpose(-1, -2) * (1.0 / math.sqrt(q.shape[-1]))
        if key_valid is not None:
            scores = scores.masked_fill(~key_valid[:, None, None, :], float("-inf"))
        o = torch.softmax(scores, dim=-1) @ v
        B, h, M, hd = o.shape
        return o.transpose(1, 2).reshape(B, M, h * hd)

    def _mha(self, h: torch.Tensor, kv: torch.Tensor, key_valid: Optional[torch.Tensor], name: str) -> torch.Tensor:
        """Multi-head attention of queries from h [B, M, d] to keys and values from kv [B, N, d]."""
        w = lambda n: self.p(f"{name}.{n}")
        o = self._attend(self._heads(h @ w("wq")), self._heads(kv @ w("wk")), self._heads(kv @ w("wv")), key_valid)
        return o @ w("wo")

    def prepare_context(self, hidden: torch.Tensor, start: torch.Tensor, end: torch.Tensor):
        """The projected context gathered per sample: kv [B, L, d] and its validity [B, L]."""
        n = hidden.shape[0]
        start = start.long()
        end = end.long()
        lens = end - start
        if bool((lens <= 0).any()) or bool((start < 0).any()) or bool((end > n).any()):
            raise ValueError(f"dit: every context range must be non-empty and inside [0, {n}); got starts {start.tolist()}, ends {end.tolist()}")
        L = int(lens.max())
        j = torch.arange(L, device=hidden.device)
        valid = j[None, :] < lens[:, None]
        rows = torch.where(valid, start[:, None] + j[None, :], start[:, None])
        proj = hidden @ self.p("context_proj.w") + self.p("context_proj.b")
        return proj[rows], valid

    def forward(
        self,
        noisy: torch.Tensor,
        tau: torch.Tensor,
        mask: Optional[torch.Tensor] = None,
        hidden: Optional[torch.Tensor] = None,
        start: Optional[torch.Tensor] = None,
        end: Optional[torch.Tensor] = None,
        context=None,
    ) -> torch.Tensor:
        """noisy [B, H, K], tau [B] (1 = data), mask [B, H, K] or None, the backbone's hidden
        states [n, contextDim] with per-sample ranges [start[b], end[b]) (or `context` from
        prepare_context, reused across Euler steps) -> velocity [B, H, K]."""
        cfg = self.cfg
        B, H, K = noisy.shape
        if H != cfg.horizon or K != cfg.action_dim:
            raise ValueError(f"dit.forward: noisy {list(noisy.shape)} must be [B, horizon = {cfg.horizon}, actionDim = {cfg.action_dim}]")
        d = cfg.d_model
        if cfg.context_dim > 0 and context is None:
            if hidden is None or start is None or end is None:
                raise ValueError(f"dit.forward: a context is required (contextDim = {cfg.context_dim})")
            context = self.prepare_context(hidden, start, end)
        temb = timestep_embedding(tau, cfg.time_freq_dim, cfg.time_scale).to(noisy.dtype)
        c = F.silu(temb @ self.p("time.w1") + self.p("time.b1")) @ self.p("time.w2") + self.p("time.b2")
        cs = F.silu(c)

        a = noisy * mask if mask is not None else noisy
        x = F.silu(a @ self.p("action_in.w1") + self.p("action_in.b1")) @ self.p("action_in.w2") + self.p("action_in.b2") + self.p("pos_embed")
        for l in range(cfg.layers):
            b = f"blocks.{l}"
            mods = [m[:, None, :] for m in (cs @ self.p(f"{b}.ada.w") + self.p(f"{b}.ada.b")).split(d, dim=1)]  # [B, 1, d] each
            subs = [lambda h: self._mha(h, h, None, f"{b}.self_attn")]
            if cfg.context_dim > 0:
                kv, valid = context
                subs.append(lambda h: self._mha(h, kv, valid, f"{b}.cross_attn"))
            subs.append(lambda h: gelu_tanh(h @ self.p(f"{b}.mlp.fc1") + self.p(f"{b}.mlp.fc1_b")) @ self.p(f"{b}.mlp.fc2") + self.p(f"{b}.mlp.fc2_b"))
            for i, f in enumerate(subs):
                shift, scale, gate = mods[3 * i : 3 * i + 3]
                x = x + gate * f(self._modulate(x, shift, scale))
        shift_f, scale_f = (m[:, None, :] for m in (cs @ self.p("final.ada.w") + self.p("final.ada.b")).split(d, dim=1))
        return self._modulate(x, shift_f, scale_f) @ self.p("action_out.w") + self.p("action_out.b")
