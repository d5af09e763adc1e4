"""File size per 1,000 transitions at 48x48, by codec, against the layout that stores
next-observations twice (obs + next_obs, N rows each), plus whole-file load time.

    python benchmarks/file_size.py [--episodes 20 --env cog/ClosedDrawerGrasp-v0
                                    --policy drawer_open]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import h5py


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--env", default="cog/ClosedDrawerGrasp-v0")
    ap.add_argument("--policy", default="drawer_open")
    ap.add_argument("--episodes", type=int, default=20)
    args = ap.parse_args()

    from data_collection import load_dataset, save_dataset
    from data_collection.collect import CollectConfig, collect

    tmp = Path(tempfile.mkdtemp(prefix="file-size-"))
    cfg = CollectConfig(args.env, args.policy, args.episodes, tmp / "src.h5", save_all=True)
    ds = load_dataset(collect(cfg, progress=False).out)
    n = ds.num_transitions
    print(f"{ds.num_episodes} episodes, {n} transitions, images {ds.images.shape[1:]}")
    print(f"{'codec':8s} {'T+1 layout':>14s} {'next_obs twice':>16s} {'load s':>8s}")
    for codec, level in (("none", 0), ("lzf", 0), ("gzip", 1), ("gzip", 4)):
        name = codec if codec != "gzip" else f"gzip{level}"
        path = tmp / f"{name}.h5"
        save_dataset(path, ds, codec=codec, gzip_level=level)
        t0 = time.perf_counter()
        load_dataset(path)
        load_s = time.perf_counter() - t0
        doubled = tmp / f"{name}-doubled.h5"
        comp = {} if codec == "none" else {"compression": codec}
        if codec == "gzip":
            comp["compression_opts"] = level
        with h5py.File(doubled, "w") as h5:
            for key, rows in (("obs", ds.obs_index), ("next_obs", ds.next_obs_index)):
                images = ds.images[rows]
                chunks = (min(151, n), *images.shape[1:]) if comp else None
                h5.create_dataset(f"{key}/image", data=images, chunks=chunks, **comp)
                h5.create_dataset(f"{key}/state", data=ds.states[rows])
            for key in ("actions", "rewards", "terminals", "timeouts"):
                h5.create_dataset(key, data=getattr(ds, key))
        ours = path.stat().st_size * 1000 / n / 1e6
        theirs = doubled.stat().st_size * 1000 / n / 1e6
        print(f"{name:8s} {ours:11.2f} MB {theirs:13.2f} MB {load_s:8.3f}   "
              f"(per 1,000 transitions; saving {1 - ours / theirs:.0%})")


if __name__ == "__main__":
    main()
