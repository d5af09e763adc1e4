"""Actor and critic networks, chosen by preset name: ``cog``, ``fast``, ``thumb`` or ``state``.

Every critic exposes the same two calls, so the losses never look inside:

    feats = critic.encode(obs)          # once per observation batch
    q = critic.q(feats, actions)        # actions (B, N, A) -> Q values (n_q, B, N)

and every actor:

    mean, log_std = actor.distribution(obs, critic_feats, critic.encode)  # (B, A) each
    # (critic_feats / critic.encode are read only by the fast preset, whose actor shares the
    # critic's encoder; ``ActorCritic.policy(obs)`` wraps this call)

Speed tricks, each the same mathematics as the straightforward network:
- each image is encoded once per network, and the features are reused for all N sampled
  actions (the original code repeats every image N times and re-encodes it);
- the first Q layer ``W [f; a] + b`` is computed as ``W_f f + (W_a a + b)``: the big
  feature matmul runs once per state, only the tiny action part runs per action;
- images enter as (B, H, W, 3) uint8; permuting to (B, 3, H, W) *is* the channels_last
  layout, so convolutions run channels_last with no copy;
- the `cog` encoder pools before its relu, and pools without recording argmax indices where
  no gradient is needed (``max_pool_2x2``).

Numerics options, off by default (``ActorCritic.set_precision``): ``"bf16"`` runs the conv
trunks under bfloat16 autocast (AMX on CPU, tensor cores on GPU), heads float32;
``"bf16-first-layer"`` also runs the feature part of every head's first layer in bf16 (the
2304-wide matmul of the `cog` preset, where most of its float32 time goes), the rest of the
heads, the targets and the losses float32.

``critic.q_naive(obs, actions)`` is the straightforward forward (encode + concatenate + MLP),
kept for the reference implementation and the equality tests.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from cog.config import PRECISIONS  # the one list of numerics options (TrainConfig.precision)

Obs = dict[str, Tensor]  # "image": uint8 (B, H, W, 3); "state": float32 (B, 10)

# COG's released policy clamps log std to [-5, 2] (rlkit's generic SAC code uses [-20, 2]).
# The floor matters for the behaviour-cloning warm-up: with -20 the log-likelihood of the data
# can grow without bound by shrinking the std, long after the mean has stopped improving.
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
PRESETS = ("cog", "fast", "state", "thumb")


@contextlib.contextmanager
def straightforward_encoders(module: nn.Module):
    """Inside this block every `cog` encoder in ``module`` runs conv -> relu -> pool as
    written in the paper (used by cog.reference, so the benchmark's baseline has none of our
    tricks). A per-instance switch, not process state: other networks are unaffected."""
    encoders = [m for m in module.modules() if isinstance(m, CogEncoder)]
    for enc in encoders:
        enc.straightforward = True
    try:
        yield
    finally:
        for enc in encoders:
            enc.straightforward = False


def low_precision_matmul(x: Tensor, w: Tensor, dtype: torch.dtype | None,
                         equation: str | None = None) -> Tensor:
    """``x @ w`` (or ``einsum(equation, x, w)``), under ``dtype`` autocast when one is given,
    returned in float32: the products run in bf16 (accumulated in float32 by AMX or tensor
    cores), every value after them stays float32."""
    def product() -> Tensor:
        return torch.einsum(equation, x, w) if equation else x @ w

    if dtype is None or torch.jit.is_tracing():
        return product()
    with torch.autocast(x.device.type, dtype=dtype):
        out = product()
    return out.float()


def image_to_float(image: Tensor) -> Tensor:
    """uint8 (B, H, W, 3) -> float (B, 3, H, W) in [0, 1], channels_last in memory."""
    return image.permute(0, 3, 1, 2).float().div_(255.0)


class ImageEncoder(nn.Module):
    """Base of the conv encoders: ``features(image)`` is the conv trunk, optionally run under
    bfloat16 autocast (``compute_dtype``, set by ``ActorCritic.set_precision``).

    Only the trunk runs in bf16 (AMX on this CPU, tensor cores on a GPU): its output is cast
    back to float32 before the state is appended, so the Q and policy heads, the targets and
    every loss stay float32. Q values near 100 have a bf16 resolution of 0.5, coarser than
    the differences the Bellman backup must resolve, which is why the heads are kept out
    (``"bf16-first-layer"`` lets only their first matmul in, whose float32 output feeds
    everything after it)."""

    compute_dtype: torch.dtype | None = None
    use_state: bool = False

    def features(self, image: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, obs: Obs) -> Tensor:
        image = obs["image"]
        if self.compute_dtype is not None and not torch.jit.is_tracing():
            with torch.autocast(image.device.type, dtype=self.compute_dtype):
                x = self.features(image)
            x = x.float()
        else:
            x = self.features(image)
        return torch.cat([x, obs["state"]], dim=1) if self.use_state else x


# --------------------------------------------------------------------------------------------
# Encoders
# --------------------------------------------------------------------------------------------
def max_pool_2x2(x: Tensor) -> Tensor:
    """``F.max_pool2d(x, 2)``, with a faster path where no gradient is needed.

    Half of the `cog` preset's pooling runs without gradient (the target critics, the policy
    on next observations). There, the elementwise maximum of the four strided 2x2 views gives
    bit-identical values 2-4x faster than max_pool2d's kernel, which also records argmax
    indices for a backward pass that will never come. With gradient, max_pool2d as before."""
    if x.requires_grad or torch.jit.is_tracing() or x.shape[-1] % 2 or x.shape[-2] % 2:
        return F.max_pool2d(x, 2)
    top = torch.maximum(x[:, :, 0::2, 0::2], x[:, :, 0::2, 1::2])
    return torch.maximum(top, torch.maximum(x[:, :, 1::2, 0::2], x[:, :, 1::2, 1::2]))


class CogEncoder(ImageEncoder):
    """COG's image encoder: 3 conv layers of 16 channels, 3x3, 2x2 max-pool after the first
    two. 48x48x3 -> 16x12x12 = 2304 features."""

    def __init__(self, image_size: int = 48, use_state: bool = False, state_dim: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.conv3 = nn.Conv2d(16, 16, 3, padding=1)
        self.use_state = use_state
        self.straightforward = False  # see straightforward_encoders
        self.out_dim = 16 * (image_size // 4) ** 2 + (state_dim if use_state else 0)

    def features(self, image: Tensor) -> Tensor:
        x = image_to_float(image)
        if self.straightforward:  # the paper's order, for the reference implementation
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            return F.relu(self.conv3(x)).flatten(1)
        # relu(max_pool(x)) == max_pool(relu(x)) exactly (relu is monotone), gradients
        # included; pooling first runs the relu on 4x fewer numbers.
        x = F.relu(max_pool_2x2(self.conv1(x)), inplace=True)
        x = F.relu(max_pool_2x2(self.conv2(x)), inplace=True)
        x = F.relu(self.conv3(x), inplace=True)
        return x.flatten(1)  # flatten copies channels_last into the standard NCHW order


class FastEncoder(ImageEncoder):
    """Our fast encoder: three stride-2 convs (no max-pool, the costliest op in COG's net),
    then a small projection with LayerNorm + tanh so the critic heads stay small."""

    def __init__(self, image_size: int = 48, use_state: bool = False, state_dim: int = 10,
                 channels: int = 32, feature_dim: int = 64):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(3, channels, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.ReLU(inplace=True),
        )
        side = math.ceil(math.ceil(math.ceil(image_size / 2) / 2) / 2)
        self.proj = nn.Linear(channels * side * side, feature_dim)
        self.norm = nn.LayerNorm(feature_dim)
        self.use_state = use_state
        self.out_dim = feature_dim + (state_dim if use_state else 0)

    def features(self, image: Tensor) -> Tensor:
        x = self.convs(image_to_float(image)).flatten(1)
        return torch.tanh(self.norm(self.proj(x)))


class ThumbEncoder(nn.Module):
    """The `thumb` preset: the 10-D state plus the camera image average-pooled to 8x8.

    The state alone is ambiguous in the COG tasks: the arm at neutral with the drawer closed
    (the closed-drawer start) and with it open (the task start) give the same 10 numbers.
    An 8x8 thumbnail shows the drawer and the object, at the cost of an MLP."""

    def __init__(self, image_size: int = 48, state_dim: int = 10, side: int = 8):
        super().__init__()
        if image_size % side:
            raise ValueError(f"thumb preset needs an image size divisible by {side}, "
                             f"got {image_size}")
        self.pool = image_size // side
        self.out_dim = 3 * side * side + state_dim
        self.normalize = StateNormalizer(state_dim)

    def forward(self, obs: Obs) -> Tensor:
        x = F.avg_pool2d(image_to_float(obs["image"]), self.pool).flatten(1)
        return torch.cat([x * 2.0 - 1.0, self.normalize(obs["state"])], dim=1)


class StateNormalizer(nn.Module):
    """(state - mean) / std with the dataset's statistics, clipped to +-10.

    Positions in metres vary by centimetres across a dataset while drawer fractions span 0..1;
    an MLP on the raw numbers barely sees where the object is. The statistics are buffers, so
    they travel with checkpoints and exported policies. Identity until ``set`` is called."""

    CLIP = 10.0

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def set(self, mean: Tensor, std: Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std)

    def forward(self, state: Tensor) -> Tensor:
        return ((state - self.mean) / self.std).clamp(-self.CLIP, self.CLIP)


class StateEncoder(nn.Module):
    def __init__(self, state_dim: int = 10):
        super().__init__()
        self.out_dim = state_dim
        self.normalize = StateNormalizer(state_dim)

    def forward(self, obs: Obs) -> Tensor:
        return self.normalize(obs["state"])


# --------------------------------------------------------------------------------------------
# Q heads
# --------------------------------------------------------------------------------------------
class SplitQHead(nn.Module):
    """One Q MLP on [features; action] with the first layer split (same weights, same maths)."""

    def __init__(self, feat_dim: int, action_dim: int, hidden: tuple[int, ...],
                 layer_norm: bool = False):
        super().__init__()
        self.feat_dim = feat_dim
        self.compute_dtype: torch.dtype | None = None  # the feature matmul's (set_precision)
        self.first = nn.Linear(feat_dim + action_dim, hidden[0])

        def act(width: int) -> list[nn.Module]:  # LayerNorm (an option) before each ReLU
            return [nn.LayerNorm(width), nn.ReLU()] if layer_norm else [nn.ReLU()]

        layers: list[nn.Module] = []
        for a, b in zip(hidden[:-1], hidden[1:], strict=True):
            layers += [*act(a), nn.Linear(a, b)]
        layers += [*act(hidden[-1]), nn.Linear(hidden[-1], 1)]
        self.rest = nn.Sequential(*layers)

    def forward(self, feats: Tensor, actions: Tensor) -> Tensor:
        """feats (B, F), actions (B, N, A) -> (B, N)."""
        w_f = self.first.weight[:, : self.feat_dim]
        w_a = self.first.weight[:, self.feat_dim :]
        h_state = low_precision_matmul(feats, w_f.t(), self.compute_dtype)  # (B, H): once per state
        h_action = torch.addmm(self.first.bias, actions.flatten(0, 1), w_a.t())  # (B*N, H)
        h = h_action.view(*actions.shape[:2], -1) + h_state.unsqueeze(1)
        return self.rest(h).squeeze(-1)

    def naive(self, feats: Tensor, actions: Tensor) -> Tensor:
        """feats (B, F), actions (B, A) -> (B,): concatenate, then the full first layer."""
        return self.rest(self.first(torch.cat([feats, actions], dim=1))).squeeze(-1)


class EnsembleQHead(nn.Module):
    """n_q Q MLPs evaluated in one batched pass (weights stacked on a leading axis)."""

    def __init__(self, n_q: int, feat_dim: int, action_dim: int, hidden: tuple[int, ...],
                 layer_norm: bool = False):
        super().__init__()
        self.n_q, self.feat_dim = n_q, feat_dim
        self.compute_dtype: torch.dtype | None = None  # the feature matmul's (set_precision)
        # Optional LayerNorm on every hidden pre-activation, with per-member gain and bias
        # (known to steady offline critics; an option, off by default as in COG).
        self.ln_gains = nn.ParameterList(
            [nn.Parameter(torch.ones(n_q, 1, h)) for h in hidden] if layer_norm else [])
        self.ln_biases = nn.ParameterList(
            [nn.Parameter(torch.zeros(n_q, 1, h)) for h in hidden] if layer_norm else [])
        dims = [feat_dim + action_dim, *hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for d_in, d_out in zip(dims[:-1], dims[1:], strict=True):
            # Same init as nn.Linear, for each member independently.
            bound = 1.0 / math.sqrt(d_in)
            self.weights.append(nn.Parameter(torch.empty(n_q, d_in, d_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(n_q, 1, d_out).uniform_(-bound, bound)))

    def forward(self, feats: Tensor, actions: Tensor) -> Tensor:
        """feats (B, F) shared by all members, actions (B, N, A) -> (n_q, B, N)."""
        b, n, _ = actions.shape
        w0 = self.weights[0]
        h_state = low_precision_matmul(feats, w0[:, : self.feat_dim], self.compute_dtype,
                                       "bf,qfh->qbh")  # (q, B, H)
        h_action = torch.baddbmm(
            self.biases[0], actions.reshape(1, b * n, -1).expand(self.n_q, -1, -1),
            w0[:, self.feat_dim :],
        )  # (q, B*N, H)
        h = h_action.view(self.n_q, b, n, -1) + h_state.unsqueeze(2)
        h = h.view(self.n_q, b * n, -1)
        for k, (w, bias) in enumerate(zip(self.weights[1:], self.biases[1:], strict=True)):
            h = torch.baddbmm(bias, F.relu(self._norm(k, h)), w)
        return h.view(self.n_q, b, n)

    def _norm(self, k: int, h: Tensor, member: int | None = None) -> Tensor:
        if not len(self.ln_gains):
            return h
        gain, bias = self.ln_gains[k], self.ln_biases[k]
        if member is not None:
            gain, bias = gain[member], bias[member]
        return F.layer_norm(h, h.shape[-1:]) * gain + bias

    def naive(self, feats: Tensor, actions: Tensor) -> Tensor:
        """feats (B, F), actions (B, A) -> (n_q, B), one member at a time, concatenated input."""
        x = torch.cat([feats, actions], dim=1)
        outs = []
        for i in range(self.n_q):
            h = x
            for k, (w, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
                h = h @ w[i] + bias[i]
                if k < len(self.weights) - 1:
                    h = F.relu(self._norm(k, h, member=i))
            outs.append(h.squeeze(-1))
        return torch.stack(outs)


# --------------------------------------------------------------------------------------------
# Critics
# --------------------------------------------------------------------------------------------
class SeparateCritic(nn.Module):
    """The `cog` preset: every Q network has its own encoder (as in COG)."""

    def __init__(self, n_q: int, make_encoder, action_dim: int, hidden: tuple[int, ...],
                 layer_norm: bool = False):
        super().__init__()
        self.encoders = nn.ModuleList([make_encoder() for _ in range(n_q)])
        feat_dim = self.encoders[0].out_dim
        self.heads = nn.ModuleList([SplitQHead(feat_dim, action_dim, hidden, layer_norm)
                                    for _ in range(n_q)])

    def encode(self, obs: Obs) -> Tensor:
        return torch.stack([enc(obs) for enc in self.encoders])  # (n_q, B, F)

    def q(self, feats: Tensor, actions: Tensor) -> Tensor:
        return torch.stack([head(f, actions) for head, f in zip(self.heads, feats, strict=True)])

    def q_naive(self, obs: Obs, actions: Tensor) -> Tensor:
        return torch.stack(
            [head.naive(enc(obs), actions)
             for enc, head in zip(self.encoders, self.heads, strict=True)]
        )


class SharedCritic(nn.Module):
    """The `fast` and `state` presets: one encoder shared by the Q ensemble."""

    def __init__(self, n_q: int, encoder: nn.Module, action_dim: int, hidden: tuple[int, ...],
                 layer_norm: bool = False):
        super().__init__()
        self.encoder = encoder
        self.head = EnsembleQHead(n_q, encoder.out_dim, action_dim, hidden, layer_norm)

    def encode(self, obs: Obs) -> Tensor:
        return self.encoder(obs)  # (B, F)

    def q(self, feats: Tensor, actions: Tensor) -> Tensor:
        return self.head(feats, actions)

    def q_naive(self, obs: Obs, actions: Tensor) -> Tensor:
        return self.head.naive(self.encoder(obs), actions)


# --------------------------------------------------------------------------------------------
# Actor
# --------------------------------------------------------------------------------------------
def mlp(d_in: int, hidden: tuple[int, ...], d_out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(d_in, h), nn.ReLU()]
        d_in = h
    layers.append(nn.Linear(d_in, d_out))
    return nn.Sequential(*layers)


class Actor(nn.Module):
    """Tanh-Gaussian policy head. With ``encoder=None`` it reads the critic's features,
    detached (the fast preset): the actor never trains the shared encoder."""

    def __init__(self, encoder: nn.Module | None, feat_dim: int, action_dim: int,
                 hidden: tuple[int, ...], log_std_range: tuple[float, float] = (LOG_STD_MIN,
                                                                               LOG_STD_MAX)):
        super().__init__()
        self.encoder = encoder
        self.net = mlp(feat_dim, hidden, 2 * action_dim)
        self.action_dim = action_dim
        self.log_std_min, self.log_std_max = log_std_range
        self.compute_dtype: torch.dtype | None = None  # the first layer's (set_precision)

    @property
    def uses_critic_features(self) -> bool:
        return self.encoder is None

    def encode(self, obs: Obs, critic_feats: Tensor | None = None, detach: bool = True) -> Tensor:
        """Features for the policy head. ``detach=False`` lets behaviour cloning train the
        shared encoder (BC has no critic loss that would otherwise train it)."""
        if self.encoder is None:
            if critic_feats is None:
                raise ValueError("this actor reads the critic's features: pass critic_feats")
            return critic_feats.detach() if detach else critic_feats
        return self.encoder(obs)

    def forward(self, feats: Tensor) -> tuple[Tensor, Tensor]:
        if self.compute_dtype is None:
            out = self.net(feats)
        else:  # the first (widest) layer's matmul in low precision, the rest float32
            first = self.net[0]
            h = low_precision_matmul(feats, first.weight.t(), self.compute_dtype) + first.bias
            out = self.net[1:](h)
        mean, log_std = out.chunk(2, dim=-1)
        return mean, log_std.clamp(self.log_std_min, self.log_std_max)

    def distribution(self, obs: Obs, critic_feats: Tensor | None = None,
                     critic_encode=None, train_shared_encoder: bool = False
                     ) -> tuple[Tensor, Tensor]:
        """The one way to run the actor on an observation: (mean, log_std), pre-tanh.

        An actor that reads the critic's features (fast preset) takes them ready-made
        (``critic_feats``, when the caller has encoded the batch anyway) or computes them with
        ``critic_encode``, without gradient unless ``train_shared_encoder`` (behaviour cloning,
        which has no critic loss to train the shared encoder)."""
        if self.encoder is None and critic_feats is None:
            if critic_encode is None:
                raise ValueError("this actor reads the critic's features: pass critic_encode")
            with torch.set_grad_enabled(train_shared_encoder and torch.is_grad_enabled()):
                critic_feats = critic_encode(obs)
        return self(self.encode(obs, critic_feats, detach=not train_shared_encoder))


# --------------------------------------------------------------------------------------------
# Presets
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NetSpec:
    preset: str
    obs: str  # image | state
    image_size: int = 48
    state_dim: int = 10
    action_dim: int = 8
    use_state: bool = False  # image presets: concatenate the state to the image features
    n_q: int = 2
    hidden: tuple[int, ...] = ()  # MLP widths; () = the preset's own (small ones for tests)
    critic_layer_norm: bool = False  # LayerNorm before every hidden ReLU of the Q heads
    log_std_min: float = LOG_STD_MIN  # the policy's log-std clamp (COG: [-5, 2])
    log_std_max: float = LOG_STD_MAX


class ActorCritic(nn.Module):
    """The actor, the critic and its target, built from one NetSpec."""

    def __init__(self, spec: NetSpec):
        super().__init__()
        if spec.preset not in PRESETS:
            raise ValueError(f"unknown network preset {spec.preset!r}; use {', '.join(PRESETS)}")
        self.spec = spec
        self.critic = _build_critic(spec)
        self.critic_target = _build_critic(spec)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        self.actor = _build_actor(spec, self.critic)
        if spec.obs == "image":
            # channels_last conv weights match the channels_last (permuted NHWC) input.
            self.to(memory_format=torch.channels_last)

    def set_precision(self, precision: str) -> None:
        """``"bf16"`` runs every conv trunk (actor, critic, target) under bfloat16 autocast;
        ``"bf16-first-layer"`` also the feature matmul of every Q head's and policy head's
        first layer; ``"float32"`` runs everything in float32. A compute setting, not part of
        the weights: checkpoints and exported policies are float32 either way."""
        if precision not in PRECISIONS:
            raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
        trunk = torch.bfloat16 if precision.startswith("bf16") else None
        first_layer = torch.bfloat16 if precision == "bf16-first-layer" else None
        for module in self.modules():
            if isinstance(module, ImageEncoder):
                module.compute_dtype = trunk
            elif isinstance(module, (SplitQHead, EnsembleQHead, Actor)):
                module.compute_dtype = first_layer

    def compile_modules(self, mode: str = "default") -> None:
        """``torch.compile`` every encoder, Q head and policy head in place (the losses call
        them unchanged). ``mode="reduce-overhead"`` adds CUDA graphs on a GPU. On this CPU
        compiling costs tens of seconds and gained nothing measurable; it is for GPUs."""
        for module in self.modules():
            if isinstance(module, COMPILED_MODULES):
                module.compile(mode=mode)

    def set_state_normalizer(self, mean: Tensor, std: Tensor) -> None:
        """Give every state normalizer (critic, target, actor) the dataset's statistics."""
        for module in self.modules():
            if isinstance(module, StateNormalizer):
                module.set(mean, std)

    def policy(self, obs: Obs, critic_feats: Tensor | None = None,
               train_shared_encoder: bool = False) -> tuple[Tensor, Tensor]:
        """(mean, log_std) of the policy at ``obs``: ``Actor.distribution`` with this critic."""
        return self.actor.distribution(obs, critic_feats, self.critic.encode,
                                       train_shared_encoder)


# The leaves that ``ActorCritic.compile_modules`` compiles: each runs one fused graph.
COMPILED_MODULES = (ImageEncoder, ThumbEncoder, StateEncoder, SplitQHead, EnsembleQHead, Actor)


def _build_critic(spec: NetSpec) -> nn.Module:
    if spec.preset == "cog":
        return SeparateCritic(
            spec.n_q, lambda: CogEncoder(spec.image_size, spec.use_state, spec.state_dim),
            spec.action_dim, spec.hidden or (1024, 512, 256), spec.critic_layer_norm,
        )
    if spec.preset == "fast":
        enc = FastEncoder(spec.image_size, spec.use_state, spec.state_dim)
        return SharedCritic(spec.n_q, enc, spec.action_dim, spec.hidden or (256, 256),
                            spec.critic_layer_norm)
    if spec.preset == "thumb":
        enc = ThumbEncoder(spec.image_size, spec.state_dim)
        return SharedCritic(spec.n_q, enc, spec.action_dim, spec.hidden or (256, 256, 256),
                            spec.critic_layer_norm)
    return SharedCritic(spec.n_q, StateEncoder(spec.state_dim), spec.action_dim,
                        spec.hidden or (256, 256, 256), spec.critic_layer_norm)


def _build_actor(spec: NetSpec, critic: nn.Module) -> Actor:
    log_std_range = (spec.log_std_min, spec.log_std_max)
    if spec.preset == "cog":
        enc = CogEncoder(spec.image_size, spec.use_state, spec.state_dim)
        hidden, feat_dim = spec.hidden or (1024, 512, 256), enc.out_dim
    elif spec.preset == "fast":
        enc, hidden, feat_dim = None, spec.hidden or (256, 256), critic.encoder.out_dim
    elif spec.preset == "thumb":
        enc = ThumbEncoder(spec.image_size, spec.state_dim)
        hidden, feat_dim = spec.hidden or (256, 256, 256), enc.out_dim
    else:
        enc = StateEncoder(spec.state_dim)
        hidden, feat_dim = spec.hidden or (256, 256, 256), enc.out_dim
    return Actor(enc, feat_dim, spec.action_dim, hidden, log_std_range)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
