"""Scripted data collection: episodes in fixed-size shards, run in-process or on Ray
actors, each shard written atomically, then merged atomically into the final file.

Resuming: a shard file exists only once it is complete (atomic rename), and its content
depends only on (fingerprint, episode range) because every episode's seeds derive from
(seed, episode index). Re-running the same command therefore reuses finished shards and
yields the same final file, whatever --workers is and wherever the last run stopped.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_collection.episodes import episodes_to_dataset
from data_collection.hdf5_format import (
    SCHEMA_VERSION,
    DatasetFormatError,
    now_iso,
    read_attrs,
    save_concatenated,
    save_dataset,
)
from data_collection.local_ray import start_or_join_ray
from data_collection.lock import exclusive_lock
from data_collection.rollout import episode_seeds, record_episode, success_key_of
from envs.atomic import write_text_atomic

EnvFactory = Callable[[str, int, dict], Any]  # (env_id, image_size, env_kwargs) -> env
# (name, noise, seed, approach_gripper) -> policy
PolicyFactory = Callable[[str, float, int, str], Any]
MANIFEST = "manifest.json"
# What grasps may command while approaching: policies.scripted.APPROACH_GRIPPER's keys, spelled
# here too so that configs and flags can name them without the experts' module (a test keeps
# the two equal).
APPROACH_GRIPPER = ("open", "hold")


class CollectionError(RuntimeError):
    """A collection run that could not finish; finished shards are kept for a resume."""


def default_env_factory(env_id: str, image_size: int, env_kwargs: dict) -> Any:
    import gymnasium

    import envs  # noqa: F401  (registers the cog/ ids)

    try:
        return gymnasium.make(env_id, image_size=image_size, **env_kwargs)
    except gymnasium.error.Error as exc:
        known = ", ".join(getattr(envs, "ENV_IDS", []))
        raise ValueError(f"cannot make env {env_id!r}: {exc} (known: {known})") from None


def default_policy_factory(name: str, noise: float, seed: int,
                           approach_gripper: str = "open") -> Any:
    import policies

    try:
        return policies.make_policy(name, noise=noise, seed=seed,
                                    approach_gripper=approach_gripper)
    except KeyError:
        known = ", ".join(getattr(policies, "POLICY_NAMES", []))
        raise ValueError(f"unknown policy {name!r} (known: {known})") from None


@dataclass(frozen=True)
class CollectConfig:
    env_id: str
    policy_name: str
    episodes: int  # episodes attempted; failed ones are dropped unless save_all
    out: Path
    noise: float = 0.1
    seed: int = 0
    workers: int = 1
    save_all: bool = False
    # End each episode when the expert has finished its sub-task, instead of recording it
    # idling until the horizon (prior data: see data_collection.presets).
    end_on_done: bool = False
    image_size: int = 48
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    # What grasps command while approaching: "open" (ours) or "hold" (COG's scripted grasp);
    # policies.scripted.APPROACH_GRIPPER.
    approach_gripper: str = "open"
    shard_episodes: int = 20  # resume granularity: at most this many episodes are redone
    address: str | None = None  # join an existing Ray cluster instead of starting one
    keep_shards: bool = False
    overwrite: bool = False
    codec: str = "lzf"
    retries: int = 1  # times a shard is retried after its worker process died

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        checks = (
            (self.episodes >= 1, f"--episodes must be >= 1, got {self.episodes}"),
            (self.workers >= 1, f"--workers must be >= 1, got {self.workers}"),
            (self.noise >= 0, f"--noise must be >= 0, got {self.noise}"),
            (self.seed >= 0, f"--seed must be >= 0, got {self.seed}"),
            (self.image_size >= 8, f"--image-size must be >= 8, got {self.image_size}"),
            (self.shard_episodes >= 1, f"shard size must be >= 1, got {self.shard_episodes}"),
            (self.retries >= 0, f"retries must be >= 0, got {self.retries}"),
            (bool(self.env_id), "an env id is required"),
            (bool(self.policy_name), "a policy name is required"),
            (self.approach_gripper in APPROACH_GRIPPER,
             f"--approach-gripper must be {' or '.join(APPROACH_GRIPPER)}, got "
             f"{self.approach_gripper!r}"),
            (self.out.suffix in (".h5", ".hdf5"), f"--out must end in .h5, got {self.out}"),
        )
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def shard_dir(self) -> Path:
        return self.out.with_name(self.out.name + ".shards")

    def fingerprint(self) -> dict[str, Any]:
        """Everything that determines the episodes' content (not how many, not filtering,
        not the number of workers)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "env_id": self.env_id,
            "env_config": {"image_size": self.image_size, **self.env_kwargs},
            "policy_name": self.policy_name,
            "noise": float(self.noise),
            "seed": int(self.seed),
            "shard_episodes": int(self.shard_episodes),
            "end_on_done": bool(self.end_on_done),
            # only when not the default, so that files collected before the option match
            **({"approach_gripper": self.approach_gripper}
               if self.approach_gripper != "open" else {}),
        }

    def shards(self) -> list[Shard]:
        out = []
        for index, first in enumerate(range(0, self.episodes, self.shard_episodes)):
            count = min(self.shard_episodes, self.episodes - first)
            path = self.shard_dir / f"shard-{index:05d}.h5"
            out.append(Shard(index, first, count, path))
        return out


@dataclass(frozen=True)
class Shard:
    index: int
    first_episode: int
    count: int
    path: Path


@dataclass(frozen=True)
class ShardSummary:
    index: int
    episodes: int
    successes: int
    transitions: int


@dataclass(frozen=True)
class CollectResult:
    out: Path
    attempted: int
    kept: int
    successes: int
    transitions: int
    reused_shards: int
    seconds: float
    already_complete: bool = False

    @property
    def success_rate(self) -> float:
        return self.successes / self.attempted if self.attempted else 0.0


class ShardCollector:
    """Owns one env and one policy; collects whole shards. Used as-is in-process and
    wrapped as a Ray actor (one per worker) for --workers > 1."""

    def __init__(
        self,
        config: CollectConfig,
        env_factory: EnvFactory | None = None,
        policy_factory: PolicyFactory | None = None,
    ) -> None:
        self.config = config
        env_factory = env_factory or default_env_factory
        policy_factory = policy_factory or default_policy_factory
        self.env = env_factory(config.env_id, config.image_size, dict(config.env_kwargs))
        self.policy = policy_factory(config.policy_name, config.noise, config.seed,
                                     config.approach_gripper)

    def run_shard(
        self, shard: Shard, on_episode: Callable[[bool], None] | None = None
    ) -> ShardSummary:
        cfg = self.config
        episodes = []
        for i in range(shard.first_episode, shard.first_episode + shard.count):
            env_seed, policy_seed = episode_seeds(cfg.seed, i)
            episode = record_episode(self.env, self.policy, env_seed, policy_seed,
                                     end_on_done=cfg.end_on_done)
            episodes.append(episode)
            if on_episode is not None:
                on_episode(episode.success)
        attrs = shard_attrs(cfg, shard, success_key_of(self.policy))
        attrs["num_successes"] = sum(ep.success for ep in episodes)
        dataset = episodes_to_dataset(episodes, attrs)
        # Shards keep failed episodes too: filtering happens at the merge, so --save-all
        # can be changed on a resume without collecting again.
        save_dataset(shard.path, dataset, codec=cfg.codec)
        return ShardSummary(
            shard.index,
            len(episodes),
            int(dataset.success.sum()),
            dataset.num_transitions,
        )

    def close(self) -> None:
        close = getattr(self.env, "close", None)
        if close is not None:
            close()


def shard_attrs(cfg: CollectConfig, shard: Shard, success_key: str) -> dict[str, Any]:
    fp = cfg.fingerprint()
    return {
        "env_id": cfg.env_id,
        "env_config": fp["env_config"],
        "policy_name": cfg.policy_name,
        "noise": float(cfg.noise),
        "seed": int(cfg.seed),
        "success_key": success_key,
        "save_all": True,
        "shard_index": shard.index,
        "first_episode": shard.first_episode,
        "num_attempted_episodes": shard.count,
        "fingerprint": fp,
    }


def _shard_is_done(shard: Shard, fingerprint: dict[str, Any]) -> bool:
    if not shard.path.exists():
        return False
    try:
        attrs = read_attrs(shard.path)
    except (DatasetFormatError, OSError):
        return False
    return (
        attrs.get("fingerprint") == fingerprint
        and attrs.get("first_episode") == shard.first_episode
        and attrs.get("num_attempted_episodes") == shard.count
    )


def _prepare_shard_dir(cfg: CollectConfig) -> str:
    """Create or check the shard directory; returns the run's created_at (kept across
    resumes so a resumed run writes the same attributes as an uninterrupted one)."""
    manifest_path = cfg.shard_dir / MANIFEST
    fingerprint = cfg.fingerprint()
    if manifest_path.exists():
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise CollectionError(f"{manifest_path} is unreadable ({exc}); delete it") from None
        old = manifest.get("fingerprint", {})
        if old != fingerprint:
            keys = set(old) | set(fingerprint)
            diff = sorted(k for k in keys if old.get(k) != fingerprint.get(k))
            raise CollectionError(
                f"{cfg.shard_dir} holds shards of a different collection (differs in "
                f"{', '.join(diff)}); delete it or choose another --out"
            )
        return str(manifest.get("created_at") or now_iso())
    cfg.shard_dir.mkdir(parents=True, exist_ok=True)
    created_at = now_iso()
    write_text_atomic(
        manifest_path,
        json.dumps({"fingerprint": fingerprint, "created_at": created_at}, indent=2),
    )
    return created_at


def _existing_output_matches(cfg: CollectConfig) -> bool:
    try:
        attrs = read_attrs(cfg.out)
    except (DatasetFormatError, OSError):
        return False
    return (
        attrs.get("fingerprint") == cfg.fingerprint()
        and attrs.get("num_attempted_episodes") == cfg.episodes
        and attrs.get("save_all") == cfg.save_all
    )


class _Progress:
    """tqdm bar: episodes done, success rate so far, ETA (tqdm's own)."""

    def __init__(self, total: int, enabled: bool, label: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=total, unit="ep", desc=label, disable=not enabled, smoothing=0.1)
        self.done = 0
        self.successes = 0

    def add(self, episodes: int, successes: int) -> None:
        self.done += episodes
        self.successes += successes
        rate = self.successes / self.done if self.done else 0.0
        self.bar.set_postfix_str(f"success {rate:.0%}", refresh=False)
        self.bar.update(episodes)

    def close(self) -> None:
        self.bar.close()


def collect(
    config: CollectConfig,
    *,
    env_factory: EnvFactory | None = None,
    policy_factory: PolicyFactory | None = None,
    progress: bool = True,
) -> CollectResult:
    """Collect ``config.episodes`` episodes into ``config.out`` (see the module docstring).

    The factories default to the real envs/policies; tests inject fakes. They are sent to
    Ray workers, so they must be picklable (module-level functions)."""
    cfg = config
    start = time.perf_counter()
    if env_factory is None and policy_factory is None:
        check_names(cfg.env_id, cfg.policy_name)  # before anything touches the disk
    lock = cfg.out.with_name(cfg.out.name + ".lock")
    with exclusive_lock(lock, f"output {cfg.out}"):
        result = _collect(cfg, start, env_factory, policy_factory, progress)
        lock.unlink(missing_ok=True)  # still held: a waiting second run was refused already
    return result


def check_names(env_id: str, policy_name: str) -> None:
    """A typo'd --env or --policy is one clear line, before any file is written (a shard
    manifest left behind would make the corrected command refuse to run)."""
    import importlib

    import gymnasium

    import envs
    import policies

    if ":" in env_id:  # "module:id" (gymnasium's form): the module registers the id
        module, env_id = env_id.split(":", 1)
        importlib.import_module(module)
    if env_id not in gymnasium.registry:
        known = ", ".join(getattr(envs, "ENV_IDS", []))
        raise ValueError(f"unknown env {env_id!r} (known: {known})")
    policies.make_policy(policy_name, noise=0.0, seed=0)  # ValueError naming the known ones


def _collect(cfg: CollectConfig, start: float, env_factory: EnvFactory | None,
             policy_factory: PolicyFactory | None, progress: bool) -> CollectResult:
    if cfg.out.exists():
        if _existing_output_matches(cfg) and not cfg.overwrite:
            attrs = read_attrs(cfg.out)
            return CollectResult(
                cfg.out,
                cfg.episodes,
                int(attrs["num_episodes"]),
                int(attrs.get("num_successes", 0)),
                int(attrs["num_transitions"]),
                0,
                0.0,
                already_complete=True,
            )
        if not cfg.overwrite:
            raise CollectionError(
                f"{cfg.out} already exists and holds a different collection; "
                "pass --overwrite to replace it"
            )
    created_at = _prepare_shard_dir(cfg)
    shards = cfg.shards()
    fingerprint = cfg.fingerprint()
    done = [s for s in shards if _shard_is_done(s, fingerprint)]
    pending = [s for s in shards if s not in done]
    use_ray = bool(pending) and (cfg.workers > 1 or cfg.address is not None)
    # Ray is started before the bar exists so its start-up log lines do not break the bar.
    ray_started = start_or_join_ray(cfg.address, cfg.workers) if use_ray else False
    bar = _Progress(cfg.episodes, progress, f"{cfg.policy_name} @ {cfg.env_id}")
    for shard in done:
        bar.add(shard.count, int(read_attrs(shard.path).get("num_successes", 0)))
    try:
        if use_ray:
            _run_on_ray(cfg, pending, env_factory, policy_factory, bar)
        elif pending:
            _run_in_process(cfg, pending, env_factory, policy_factory, bar)
    finally:
        bar.close()
        if ray_started:
            import ray

            ray.shutdown()
    result = _merge_shards(cfg, shards, created_at, len(done), start)
    if not cfg.keep_shards:
        shutil.rmtree(cfg.shard_dir, ignore_errors=True)
    return result


def _run_in_process(
    cfg: CollectConfig,
    pending: list[Shard],
    env_factory: EnvFactory | None,
    policy_factory: PolicyFactory | None,
    bar: _Progress,
) -> None:
    collector = ShardCollector(cfg, env_factory, policy_factory)
    try:
        for shard in pending:
            try:
                collector.run_shard(shard, on_episode=lambda ok: bar.add(1, int(ok)))
            except (ValueError, KeyboardInterrupt):
                raise  # user errors and Ctrl-C keep their own message
            except Exception as exc:
                raise CollectionError(
                    f"shard {shard.index} failed: {type(exc).__name__}: {_first_line(exc)}; "
                    f"finished shards are kept in {cfg.shard_dir}: re-run the same command "
                    "to resume"
                ) from exc
    finally:
        collector.close()


def _run_on_ray(
    cfg: CollectConfig,
    pending: list[Shard],
    env_factory: EnvFactory | None,
    policy_factory: PolicyFactory | None,
    bar: _Progress,
) -> None:
    import ray
    from ray.exceptions import RayActorError, RayTaskError

    # max_restarts=0: a crashed worker is replaced by us, so the retry count stays explicit.
    actor_cls = ray.remote(num_cpus=1, max_restarts=0)(ShardCollector)

    def new_actor() -> Any:
        return actor_cls.remote(cfg, env_factory, policy_factory)

    queue: deque[Shard] = deque(pending)
    tries = {s.index: 0 for s in pending}
    in_flight: dict[Any, tuple[Any, Shard]] = {}
    try:
        for _ in range(min(cfg.workers, len(queue))):
            actor = new_actor()
            shard = queue.popleft()
            in_flight[actor.run_shard.remote(shard)] = (actor, shard)
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            ref = ready[0]
            actor, shard = in_flight.pop(ref)
            where = (
                f"shard {shard.index} (episodes {shard.first_episode}.."
                f"{shard.first_episode + shard.count - 1})"
            )
            try:
                summary = ray.get(ref)
            except RayActorError as exc:
                tries[shard.index] += 1
                if tries[shard.index] > cfg.retries:
                    raise CollectionError(
                        f"the worker running {where} died {tries[shard.index]} time(s) "
                        f"({_first_line(exc)}); finished shards are kept in {cfg.shard_dir}: "
                        "re-run the same command to resume"
                    ) from None
                actor = new_actor()  # the dead worker is gone; retry on a fresh one
                in_flight[actor.run_shard.remote(shard)] = (actor, shard)
                continue
            except RayTaskError as exc:
                cause = getattr(exc, "cause", None) or exc
                raise CollectionError(
                    f"{where} failed: {type(cause).__name__}: {_first_line(cause)}; finished "
                    f"shards are kept in {cfg.shard_dir}: re-run the same command to resume"
                ) from None
            bar.add(summary.episodes, summary.successes)
            if queue:
                shard = queue.popleft()
                in_flight[actor.run_shard.remote(shard)] = (actor, shard)
            else:
                ray.kill(actor)
    finally:
        for actor, _ in in_flight.values():
            ray.kill(actor)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _merge_shards(
    cfg: CollectConfig, shards: list[Shard], created_at: str, reused: int, start: float
) -> CollectResult:
    paths = [s.path for s in shards]
    first = read_attrs(paths[0])
    successes = 0
    for path in paths:
        successes += int(read_attrs(path).get("num_successes", 0))
    attrs = {
        "env_id": cfg.env_id,
        "env_config": cfg.fingerprint()["env_config"],
        "policy_name": cfg.policy_name,
        "noise": float(cfg.noise),
        "seed": int(cfg.seed),
        "success_key": first.get("success_key", "is_success"),
        "save_all": bool(cfg.save_all),
        "end_on_done": bool(cfg.end_on_done),
        "num_attempted_episodes": cfg.episodes,
        "num_successes": successes,
        "success_rate": successes / cfg.episodes,
        "fingerprint": cfg.fingerprint(),
        "created_at": created_at,
    }
    # The number of workers is deliberately not recorded: it must not change the file.
    if successes == 0 and not cfg.save_all:
        raise CollectionError(
            f"none of the {cfg.episodes} episodes succeeded (success key "
            f"{attrs['success_key']!r}), so there is nothing to save; pass --save-all to keep "
            f"failed episodes (the collected shards in {cfg.shard_dir} will be reused)"
        )
    episodes, transitions, _ = save_concatenated(
        cfg.out, paths, attrs, keep_failed=cfg.save_all, codec=cfg.codec
    )
    return CollectResult(
        out=cfg.out,
        attempted=cfg.episodes,
        kept=episodes,
        successes=successes,
        transitions=transitions,
        reused_shards=reused,
        seconds=time.perf_counter() - start,
    )
