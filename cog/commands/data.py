"""`cog data`: inspect, validate, merge, export and watch HDF5 datasets."""

from __future__ import annotations

import argparse


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    from cog.cli import old_flag

    p = subparsers.add_parser("data", help="inspect, validate, merge and export datasets")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")

    info = sub.add_parser("info", help="episodes, transitions, success, rewards, sizes, schema")
    info.add_argument("file")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.set_defaults(func=run_info)

    val = sub.add_parser("validate", help="check a file; exit 0 if valid, 1 with problems")
    val.add_argument("file")
    val.set_defaults(func=run_validate)

    vid = sub.add_parser("video", help="one episode's camera frames as a GIF")
    vid.add_argument("file")
    vid.add_argument("--episode", type=int, default=0, help="episode index (0)")
    vid.add_argument("--out", required=True, help="output .gif")
    vid.add_argument("--fps", type=float, default=10.0)
    vid.add_argument("--zoom", type=int, default=4, help="pixel upscaling factor (4)")
    old_flag(vid, "--scale", "--zoom", "zoom", type=int)
    vid.set_defaults(func=run_video)

    mer = sub.add_parser("merge", help="concatenate compatible files")
    mer.add_argument("inputs", nargs="+")
    mer.add_argument("--out", required=True)
    mer.add_argument("--overwrite", action="store_true")
    mer.set_defaults(func=run_merge)

    sel = sub.add_parser("select", help="keep the episodes of chosen behaviours (e.g. a prior "
                                        "without its irrelevant episodes)")
    sel.add_argument("file")
    sel.add_argument("--behaviour", nargs="+", required=True, metavar="NAME",
                     help="behaviours to keep, as `cog data info` lists them")
    sel.add_argument("--out", required=True)
    sel.add_argument("--overwrite", action="store_true")
    sel.set_defaults(func=run_select)

    exp = sub.add_parser("export-minari", help="write a local Minari dataset")
    exp.add_argument("file")
    exp.add_argument("--name", required=True, help="dataset id, e.g. cog/closed-drawer-v0")
    exp.add_argument("--overwrite", action="store_true")
    exp.add_argument("--jpeg", action="store_true", help="lossy JPEG images (smaller)")
    exp.set_defaults(func=run_export_minari)

    p.set_defaults(func=lambda args: p.print_help() or 2)


def run_info(args: argparse.Namespace) -> int:
    import json

    from data_collection.tools import summarize

    s = summarize(args.file)
    if args.json:
        print(json.dumps(s, indent=2, default=str))
        return 0
    r, ret, length = s["reward"], s["episode_return"], s["episode_length"]
    print(f"file          {s['file']} ({s['file_bytes'] / 1e6:.2f} MB, "
          f"{s['bytes_per_1000_transitions'] / 1e6:.2f} MB per 1000 transitions)")
    print(f"schema        cog-dataset v{s['schema_version']}")
    print(f"env           {s['env_id']}  image {s['image_size']}x{s['image_size']}")
    print(f"policy        {s['policy_name']}  noise {s['noise']}  seed {s['seed']}  "
          f"save_all {s['save_all']}")
    print(f"episodes      {s['episodes']}  (length mean {length['mean']:.1f}, "
          f"min {length['min']:.0f}, max {length['max']:.0f})")
    print(f"transitions   {s['transitions']}")
    print(f"success rate  {s['success_rate']:.1%}")
    print(f"reward        mean {r['mean']:.3f}  min {r['min']:.3f}  max {r['max']:.3f}  "
          f"nonzero {r['nonzero_fraction']:.1%}")
    print(f"return        mean {ret['mean']:.2f}  min {ret['min']:.2f}  max {ret['max']:.2f}")
    if s["behaviours"]:
        print("behaviours")
        for name, b in s["behaviours"].items():
            print(f"  {name:20s} {b['episodes']:5d} episodes  {b['transitions']:7d} transitions  "
                  f"success {b['success_rate']:.1%}")
    print("arrays")
    for key, a in s["arrays"].items():
        print(f"  {key:20s} {str(tuple(a['shape'])):22s} {a['dtype']:8s} "
              f"{a['stored_bytes'] / 1e6:8.2f} MB stored ({a['compression']})")
    print(f"created       {s['attrs'].get('created_at')}  by cog "
          f"{s['attrs'].get('package_version')}")
    return 0


def run_validate(args: argparse.Namespace) -> int:
    from data_collection import validate_file

    problems = validate_file(args.file)
    if problems:
        for line in problems:
            print(line)
        return 1
    print(f"{args.file}: valid")
    return 0


def run_video(args: argparse.Namespace) -> int:
    from data_collection.video import write_episode_gif

    n = write_episode_gif(args.file, args.episode, args.out, fps=args.fps, scale=args.zoom)
    print(f"wrote {args.out}: episode {args.episode}, {n} frames")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from data_collection.tools import merge_files

    episodes, transitions = merge_files(args.inputs, args.out, overwrite=args.overwrite)
    print(f"wrote {args.out}: {episodes} episodes, {transitions} transitions "
          f"from {len(args.inputs)} files")
    return 0


def run_select(args: argparse.Namespace) -> int:
    from data_collection.tools import select_behaviours

    episodes, transitions = select_behaviours(args.file, args.behaviour, args.out,
                                              overwrite=args.overwrite)
    print(f"wrote {args.out}: {episodes} episodes, {transitions} transitions "
          f"({', '.join(args.behaviour)})")
    return 0


def run_export_minari(args: argparse.Namespace) -> int:
    from data_collection.minari_export import export_minari, minari_root

    dataset_id = export_minari(args.file, args.name, overwrite=args.overwrite, jpeg=args.jpeg)
    print(f"exported {dataset_id} to {minari_root() / dataset_id}; "
          f"read it with minari.load_dataset({dataset_id!r})")
    return 0
