"""Updates/s of one CQL update (policy, entropy and Q losses, three Adam steps, Polyak, and
the pad-4 random crop of both observation batches) at batch 256, per network preset: ours in
float32, in bf16 (conv encoders under bfloat16 autocast) and in bf16-first-layer (also the
feature matmul of each head's first layer), next to the straightforward implementation in the
same run, median of repeats.

    python benchmarks/train_speed.py                     # paper setting: 1 action per kind
    python benchmarks/train_speed.py --n-actions 10      # the peer figures' setting
    python benchmarks/train_speed.py --presets cog --repeats 3 --updates 3
    python benchmarks/train_speed.py --device cuda       # on a GPU

"Straightforward" is cog.reference (images repeated per sampled action and re-encoded, a
concatenated first layer, conv -> relu -> pool in the paper's order) with the crop built by
padding the image first (cog.augment.random_crop_padded), all float32. Both use the same
parameters and random numbers; tests/test_train_cql_formula.py checks that their loss values
are equal, and tests/test_train_speed_levers.py bounds bf16's difference. Prints a markdown
table; writes nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from cog.algos.cql import CQL, CQLConfig  # noqa: E402
from cog.augment import random_crop, random_crop_padded  # noqa: E402
from cog.networks import PRECISIONS, ActorCritic, NetSpec, count_parameters  # noqa: E402
from cog.reference import reference_update  # noqa: E402
from cog.replay import Batch  # noqa: E402


def make_batch(b: int, device: torch.device, state_dim: int, image_size: int = 48) -> Batch:
    g = torch.Generator().manual_seed(0)

    def obs():
        img = torch.randint(0, 256, (b, image_size, image_size, 3), dtype=torch.uint8, generator=g)
        return {"image": img.to(device), "state": torch.randn(b, state_dim, generator=g).to(device)}

    return Batch(obs(), (torch.rand(b, 8, generator=g) * 2 - 1).to(device),
                 torch.rand(b, generator=g).to(device), torch.zeros(b, device=device), obs(),
                 torch.ones(b, dtype=torch.bool, device=device))


def rate(fn, batch: Batch, updates: int, sync) -> float:
    fn(batch)  # warm-up (allocator, lazy init, compilation)
    fn(batch)
    sync()
    t0 = time.perf_counter()
    for _ in range(updates):
        fn(batch)
    sync()
    return updates / (time.perf_counter() - t0)


def measure(preset: str, args, device: torch.device, sync) -> tuple[int, dict[str, float]]:
    """(parameter count, {precision or "reference": median updates/s}) for one preset."""
    obs = "state" if preset == "state" else "image"
    torch.manual_seed(0)
    # The networks' low-dim input as in training (cog.config.state_keys): proprioception
    # for image presets, proprioception plus the privileged object state for `state`.
    state_dim = 10  # NetSpec's default, the proprioception of envs.constants.STATE_DIM
    if obs == "state":  # imported here: the image presets run without pybullet (GPU)
        from envs.constants import OBJECT_STATE_DIM, STATE_DIM

        state_dim = STATE_DIM + OBJECT_STATE_DIM
    nets = ActorCritic(NetSpec(preset, obs, state_dim=state_dim)).to(device)
    algo = CQL(nets, CQLConfig(cql_n_actions=args.n_actions, bc_warmup_steps=0), device=device)
    batch = make_batch(args.batch, device, state_dim)
    if args.compile:  # compiled in place; the reference calls the same modules
        nets.compile_modules(args.compile)

    def ours(b: Batch):
        if obs == "image":  # augmentation is part of every training step
            b.obs["image"] = random_crop(b.obs["image"], 4)
            b.next_obs["image"] = random_crop(b.next_obs["image"], 4)
        return algo.update(b)

    def straightforward(b: Batch):
        if obs == "image":
            b.obs["image"] = random_crop_padded(b.obs["image"], 4)
            b.next_obs["image"] = random_crop_padded(b.next_obs["image"], 4)
        return reference_update(algo, b)

    updates = args.updates or {"cog": 3, "fast": 20, "state": 30}.get(preset, 5)
    if device.type == "cuda":
        updates *= 20
    row: dict[str, float] = {}
    for prec in (args.precisions if obs == "image" else ["float32"]):
        nets.set_precision(prec)
        row[prec] = statistics.median(rate(ours, batch, updates, sync)
                                      for _ in range(args.repeats))
    nets.set_precision("float32")
    if not args.no_reference:
        ref_updates = max(1, updates // 3) if preset != "state" else updates
        row["reference"] = statistics.median(rate(straightforward, batch, ref_updates, sync)
                                             for _ in range(args.repeats))
    return count_parameters(nets.actor) + count_parameters(nets.critic), row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--n-actions", type=int, default=1)
    p.add_argument("--presets", nargs="+", default=["cog", "fast", "state"])
    p.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--updates", type=int, default=0, help="updates per repeat (0 = auto)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--no-reference", action="store_true")
    p.add_argument("--compile", default="", metavar="MODE",
                   help="torch.compile our networks (default | reduce-overhead | max-autotune)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"torch {torch.__version__}, device {device} ({name}), threads "
          f"{torch.get_num_threads()}, batch {args.batch}, {args.n_actions} action(s) per kind, "
          f"median of {args.repeats}" + (f", compiled ({args.compile})" if args.compile else ""))
    cols = [f"{prec} updates/s" for prec in args.precisions]
    ratios = [f"{prec} speed-up" for prec in args.precisions]
    print("| preset | params | " + " | ".join(cols) + " | straightforward updates/s | "
          + " | ".join(ratios) + " |")
    print("|---" * (3 + 2 * len(args.precisions)) + "|")
    results: dict[str, dict[str, float]] = {}
    for preset in args.presets:
        params, row = measure(preset, args, device, sync)
        results[preset] = row
        ref = row.get("reference")
        cells = [f"{row[p]:.2f}" if p in row else "-" for p in args.precisions]
        ups = [f"{row[p] / ref:.2f}x" if (p in row and ref) else "-" for p in args.precisions]
        ref_cell = f"{ref:.2f}" if ref else "-"
        print(f"| {preset} | {params / 1e6:.2f}M | " + " | ".join(cells) + f" | {ref_cell} | "
              + " | ".join(ups) + " |")
    if "cog" in results and "fast" in results and "reference" in results["cog"]:
        best = max(v for k, v in results["fast"].items() if k != "reference")
        print(f"\nfast preset (best precision) vs the straightforward cog implementation: "
              f"{best / results['cog']['reference']:.1f}x")


if __name__ == "__main__":
    main()
