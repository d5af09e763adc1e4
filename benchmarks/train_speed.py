"""Updates/s of one CQL update (policy + entropy + Q losses, three Adam steps, Polyak) at
batch 256, for the image `cog` preset, the fast image preset and the state preset; each
next to the straightforward implementation (cog.reference: images repeated per sampled
action and re-encoded, concatenated first layer) in the same run, median of repeats.

    python benchmarks/train_speed.py                     # paper setting: 1 action per kind
    python benchmarks/train_speed.py --n-actions 10      # the peer figures' setting
    python benchmarks/train_speed.py --presets cog --repeats 3 --updates 3

Both columns use the same parameters and random numbers; tests/test_train_cql_formula.py
checks that their loss values are equal. Prints a markdown table; writes nothing.
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
from cog.augment import random_crop  # noqa: E402
from cog.networks import ActorCritic, NetSpec, count_parameters  # noqa: E402
from cog.reference import reference_update  # noqa: E402
from cog.replay import Batch  # noqa: E402
from envs.constants import OBJECT_STATE_DIM, STATE_DIM  # noqa: E402


def make_batch(b: int, device: torch.device, state_dim: int, image_size: int = 48) -> Batch:
    g = torch.Generator().manual_seed(0)

    def obs():
        img = torch.randint(0, 256, (b, image_size, image_size, 3), dtype=torch.uint8, generator=g)
        return {"image": img.to(device), "state": torch.randn(b, state_dim, generator=g).to(device)}

    return Batch(obs(), (torch.rand(b, 8, generator=g) * 2 - 1).to(device),
                 torch.rand(b, generator=g).to(device), torch.zeros(b, device=device), obs(),
                 torch.ones(b, dtype=torch.bool, device=device))


def rate(fn, batch: Batch, updates: int, sync) -> float:
    fn(batch)  # warm-up (allocator, lazy init)
    sync()
    t0 = time.perf_counter()
    for _ in range(updates):
        fn(batch)
    sync()
    return updates / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--n-actions", type=int, default=1)
    p.add_argument("--presets", nargs="+", default=["cog", "fast", "state"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--updates", type=int, default=0, help="updates per repeat (0 = auto)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--no-reference", action="store_true")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}, "
          f"batch {args.batch}, {args.n_actions} action(s) per kind, median of {args.repeats}")
    print("| preset | params | fast updates/s | straightforward updates/s | speed-up |")
    print("|---|---|---|---|---|")
    results: dict[str, tuple[float, float]] = {}
    for preset in args.presets:
        obs = "state" if preset == "state" else "image"
        torch.manual_seed(0)
        # The networks' low-dim input as in training (cog.config.state_keys): proprioception
        # for image presets, proprioception plus the privileged object state for `state`.
        state_dim = STATE_DIM + (OBJECT_STATE_DIM if obs == "state" else 0)
        nets = ActorCritic(NetSpec(preset, obs, state_dim=state_dim)).to(device)
        cfg = CQLConfig(cql_n_actions=args.n_actions, bc_warmup_steps=0)
        algo = CQL(nets, cfg, device=device)
        batch = make_batch(args.batch, device, state_dim)
        if obs == "image":  # augmentation is part of every training step
            def step(b, algo=algo):
                b.obs["image"] = random_crop(b.obs["image"], 4)
                return algo.update(b)
        else:
            step = algo.update
        updates = args.updates or {"cog": 3, "fast": 20, "state": 30}.get(preset, 5)
        fast = [rate(step, batch, updates, sync) for _ in range(args.repeats)]
        params = count_parameters(nets.actor) + count_parameters(nets.critic)
        if args.no_reference:
            print(f"| {preset} | {params / 1e6:.2f}M | {statistics.median(fast):.2f} | - | - |")
            continue
        ref_updates = max(1, updates // 3) if preset != "state" else updates
        ref = [rate(lambda b, algo=algo: reference_update(algo, b), batch, ref_updates, sync)
               for _ in range(args.repeats)]
        f, r = statistics.median(fast), statistics.median(ref)
        results[preset] = (f, r)
        print(f"| {preset} | {params / 1e6:.2f}M | {f:.2f} | {r:.2f} | {f / r:.2f}x |")
    if "cog" in results and "fast" in results:
        print(f"\nfast preset vs the straightforward cog implementation: "
              f"{results['fast'][0] / results['cog'][1]:.1f}x")


if __name__ == "__main__":
    main()
