"""The PRTS backbone and heads (src/model/backbone.ts, heads.ts, prts.ts).

Weights keep the workbench's layout and names: a linear weight is [in, out] and applied
as x @ W, so a checkpoint's tensors load without transposes. Parameters live in one
dict keyed by the ParamStore name (`backbone.layers.0.attn.wq`, ...); nn.Module needs
names without dots, so they are registered with dots replaced by "__".
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import attention as attn_impl
from .losses import cross_entropy, info_nce
from .roles import AR_ACTION, INSTRUCTION


@dataclass
class BackboneConfig:
    vocab_size: int
    d_model: int
    layers: int
    heads: int
    head_dim: int
    mlp_hidden: int
    rope_base: float = 10000.0
    norm_eps: float = 1e-6
    patch_features: int = 0
    action_start_goal: bool = False


@dataclass
class PrtsConfig:
    backbone: BackboneConfig
    crl_hidden: int
    crl_dim: int
    temperature_init: float
    max_scale: float
    gamma: float
    lambda_crl: float
    tile: int = 32
    grounding_classes: int = 0
    lambda_grounding: float = 0.0


def config_from_workbench(cfg: Mapping, vocab_size: int) -> PrtsConfig:
    """src/train/pretrain.ts prtsConfigOf: the model a WorkbenchConfig implies."""
    m, t = cfg["model"], cfg["train"]
    # src/train/vision.ts patchFeatureWidth: pixels, one-hot camera, one-hot patch index.
    patches_per_image = (m["imageSize"] // m["patchSize"]) ** 2 if m.get("patchPositions") else 0
    patch_features = m["patchSize"] * m["patchSize"] * 3 + len(m["cameras"]) + patches_per_image
    return PrtsConfig(
        backbone=BackboneConfig(
            vocab_size=vocab_size,
            d_model=m["dModel"],
            layers=m["layers"],
            heads=m["heads"],
            head_dim=m["headDim"],
            mlp_hidden=round(m["mlpRatio"] * m["dModel"]),
            patch_features=patch_features,
            action_start_goal=bool(m.get("actionStartGoal", False)),
        ),
        crl_hidden=m["crlHidden"],
        crl_dim=m["crlDim"],
        temperature_init=t["temperatureInit"],
        max_scale=t["maxScale"],
        gamma=t["gamma"],
        lambda_crl=t["lambdaCrl"],
        tile=m["attnTile"],
        grounding_classes=int(m.get("groundingClasses", 0) or 0),
        lambda_grounding=float(t.get("lambdaGrounding", 0) or 0),
    )


def rmsnorm(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x: torch.Tensor, pos: torch.Tensor, base: float) -> torch.Tensor:
    """Rotate-half RoPE on [n, H, D] (src/engine/reference/rope.ts)."""
    D = x.shape[-1]
    half = D // 2
    inv = base ** (-2.0 * torch.arange(half, dtype=torch.float64, device=x.device) / D)
    theta = pos.to(torch.float64)[:, None] * inv[None, :]
    c = torch.cos(theta).to(x.dtype)[:, None, :]
    s = torch.sin(theta).to(x.dtype)[:, None, :]
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * c - b * s, b * c + a * s], dim=-1)


# src/model/tokenizers/vocab.ts SPECIAL.actionStart: the global id of <|action_start|>.
ACTION_START_ID = 2


def add_action_start_goal(x: torch.Tensor, embed: torch.Tensor, ids: torch.Tensor, roles: torch.Tensor, docs: torch.Tensor) -> torch.Tensor:
    """src/model/action-start-goal.ts: the first <|action_start|> of each document also gets
    the mean embedding of that document's instruction tokens."""
    roles, docs = roles.long(), docs.long()
    instruction = roles == INSTRUCTION
    starts = torch.nonzero((roles == AR_ACTION) & (ids == ACTION_START_ID)).flatten().tolist()
    rows, means, seen = [], [], set()
    for r in starts:
        d = int(docs[r])
        sel = instruction & (docs == d)
        if d in seen or not bool(sel.any()):
            continue
        seen.add(d)
        rows.append(r)
        means.append(embed[ids[sel]].mean(0))
    if not rows:
        return x
    return x.index_add(0, torch.tensor(rows, device=x.device), torch.stack(means).to(x.dtype))


def l2normalize(x: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(eps)


class PrtsModel(nn.Module):
    """Backbone + LM head + CRL heads, with the pre-training objective of src/model/prts.ts."""

    def __init__(self, cfg: PrtsConfig, attention: str = "auto"):
        super().__init__()
        self.cfg = cfg
        # How the mask is built when a batch comes without one (attention.build_mask's impl).
        self.attention = attention
        self.params = nn.ParameterDict()
        self.names: list[str] = []
        b = cfg.backbone
        d = b.d_model
        self._add("backbone.embed", (b.vocab_size, d))
        if b.patch_features > 0:
            self._add("backbone.patch_stem", (b.patch_features, d))
        for l in range(b.layers):
            p = f"backbone.layers.{l}"
            self._add(f"{p}.attn_norm", (d,), 1.0)
            for w in ("wq", "wk", "wv", "wo"):
                self._add(f"{p}.attn.{w}", (d, d))
            self._add(f"{p}.mlp_norm", (d,), 1.0)
            self._add(f"{p}.mlp.gate", (d, b.mlp_hidden))
            self._add(f"{p}.mlp.up", (d, b.mlp_hidden))
            self._add(f"{p}.mlp.down", (b.mlp_hidden, d))
        self._add("backbone.final_norm", (d,), 1.0)
        self._add("lm_head.w", (d, b.vocab_size))
        for h in ("phi", "psi"):
            self._add(f"crl.{h}.w1", (d, cfg.crl_hidden))
            self._add(f"crl.{h}.b1", (cfg.crl_hidden,), 0.0)
            self._add(f"crl.{h}.w2", (cfg.crl_hidden, cfg.crl_dim))
        self._add("crl.log_scale", (1,), math.log(1.0 / cfg.temperature_init))
        if cfg.grounding_classes:
            # src/model/grounding.ts: which region holds the named object, read at <|action_start|>.
            self._add("grounding.w", (d, cfg.grounding_classes))
            self._add("grounding.b", (cfg.grounding_classes,), 0.0)

    def _add(self, name: str, shape: tuple, fill: Optional[float] = None) -> None:
        """Constants start at `fill`; weights get a fan-in init (a checkpoint usually replaces it)."""
        if fill is not None:
            t = torch.full(shape, float(fill))
        else:
            t = torch.randn(shape) / math.sqrt(shape[0])
        self.params[name.replace(".", "__")] = nn.Parameter(t)
        self.names.append(name)

    def p(self, name: str) -> torch.Tensor:
        return self.params[name.replace(".", "__")]

    def named(self) -> Dict[str, nn.Parameter]:
        """Workbench name -> parameter, in definition order."""
        return {n: self.p(n) for n in self.names}

    def decayed(self, name: str) -> bool:
        """src/model/params.ts: matrices decay, except embeddings; vectors and scalars do not."""
        return self.p(name).dim() >= 2 and "embed" not in name

    # ---- forward -----------------------------------------------------------------------

    def hidden(self, batch: Mapping[str, torch.Tensor], mask=None) -> torch.Tensor:
        b = self.cfg.backbone
        ids = batch["ids"].long()
        n = ids.shape[0]
        x = self.p("backbone.embed")[ids]
        if b.patch_features > 0:
            # Only the image slots carry stem inputs (every other row's are zero).
            stem = batch["patch_features"].to(x.dtype) @ self.p("backbone.patch_stem")
            x = x.index_add(0, batch["patch_rows"].long(), stem)
        if b.action_start_goal:
            x = add_action_start_goal(x, self.p("backbone.embed"), ids, batch["roles"], batch["docs"])
        pos = batch["positions"]
        if mask is None:
            mask = attn_impl.build_mask(batch["docs"], batch["roles"], tile=self.cfg.tile, impl=self.attention)
        for l in range(b.layers):
            p = f"backbone.layers.{l}"
            h = rmsnorm(x, self.p(f"{p}.attn_norm"), b.norm_eps)
            heads = lambda w: (h @ self.p(f"{p}.attn.{w}")).reshape(n, b.heads, b.head_dim)
            q = rope(heads("wq"), pos, b.rope_base)
            k = rope(heads("wk"), pos, b.rope_base)
            v = heads("wv")
            o = attn_impl.attention(q, k, v, mask).reshape(n, b.d_model)
            x = x + o @ self.p(f"{p}.attn.wo")
            h2 = rmsnorm(x, self.p(f"{p}.mlp_norm"), b.norm_eps)
            x = x + (F.silu(h2 @ self.p(f"{p}.mlp.gate")) * (h2 @ self.p(f"{p}.mlp.up"))) @ self.p(f"{p}.mlp.down")
        return rmsnorm(x, self.p("backbone.final_norm"), b.norm_eps)

    def ar_logits(self, h: torch.Tensor, batch) -> torch.Tensor:
        return h[batch["target_indices"].long()] @ self.p("lm_head.w")

    def _mlp(self, x: torch.Tensor, which: str) -> torch.Tensor:
        return F.silu(x @ self.p(f"crl.{which}.w1") + self.p(f"crl.{which}.b1")) @ self.p(f"crl.{which}.w2")

    def phi(self, h: torch.Tensor, batch) -> torch.Tensor:
        return l2normalize(self._mlp(h[batch["action_end_index"].long()], "phi"))

    def psi(self, h: torch.Tensor, batch) -> torch.Tensor:
        return l2normalize(self._mlp(h[batch["goal_end_index"].long()], "psi"))

    def grounding_logits(self, h: torch.Tensor, batch) -> torch.Tensor:
        return h[batch["grounding_rows"].long()] @ self.p("grounding.w") + self.p("grounding.b")

    def losses(self, batch: Mapping[str, torch.Tensor], mask=None, sal_normalization: str = "weightSum", lsa_reduction: str = "goals") -> Dict[str, torch.Tensor]:
        """total = BC + lambda (L_sa->l + L_l->sa) [+ lambda_grounding L_grounding]; CRL is
        skipped for batches without CRL blocks, grounding for shards without its rows."""
        h = self.hidden(batch, mask)
        bc = cross_entropy(self.ar_logits(h, batch), batch["targets"].long())
        out = {"total": bc, "bc": bc}
        if self.cfg.grounding_classes and "grounding_rows" in batch and batch["grounding_rows"].numel() > 0:
            logits = self.grounding_logits(h, batch)
            labels = batch["grounding_labels"].long()
            g = cross_entropy(logits, labels)
            out["grounding"] = g
            out["grounding_accuracy"] = (logits.argmax(-1) == labels).to(g.dtype).mean().detach()
            if self.cfg.lambda_grounding > 0:
                out["total"] = out["total"] + self.cfg.lambda_grounding * g
        has_crl = batch["action_end_index"].numel() > 0 and batch["goal_end_index"].numel() > 0
        if not has_crl:
            return out
        crl = info_nce(
            self.phi(h, batch),
            self.psi(h, batch),
            goal_of=batch["goal_of"].long(),
            t=batch["t"],
            T=batch["T"],
            gamma=self.cfg.gamma,
            log_scale=self.p("crl.log_scale"),
            max_scale=self.cfg.max_scale,
            sal_normalization=sal_normalization,
            lsa_reduction=lsa_reduction,
        )
        out.update({"sal": crl["sal"], "lsa": crl["lsa"], "accuracy": crl["accuracy"]})
        lam = self.cfg.lambda_crl
        if lam > 0:
            out["total"] = out["total"] + lam * (crl["sal"] + crl["lsa"])
        return out

    def forward(self, batch: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """The pre-training losses; forward() so DistributedDataParallel can wrap the model."""
        return self.losses(batch)

    # ---- weights -----------------------------------------------------------------------

    def load_named(self, tensors: Mapping[str, torch.Tensor], strict: bool = True) -> None:
        """Copies workbench-named tensors in; names and shapes must match both ways (applyParams)."""
        own = self.named()
        missing = [n for n in own if n not in tensors]
        extra = [n for n in tensors if n not in own and not (not strict and n.startswith("dit."))]
        if missing or (strict and extra):
            raise ValueError(f"checkpoint parameters do not match the model: missing {missing[:5]}, unexpected {extra[:5]}")
        with torch.no_grad():
            for n, p in own.items():
                t = tensors[n]
                if tuple(t.shape) != tuple(p.shape):
                    raise ValueError(f"parameter '{n}': checkpoint shape {list(t.shape)}, model {list(p.shape)}")
                p.copy_(t.to(p.dtype))
