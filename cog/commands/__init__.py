"""Sub-commands of the `cog` CLI.

Each module here defines ``add_parsers(subparsers)``, which registers one or more
sub-commands and binds them with ``set_defaults(func=handler)``. The dispatcher in
``cog.cli`` discovers the modules, so each area of the project owns its own file.
Keep module-level imports light (argparse only): heavy imports (torch, ray,
pybullet) belong inside the handlers, so ``cog --help`` stays instant.
"""
