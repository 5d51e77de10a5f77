"""A local mirror of the IsaacLab assets that the CPU tasks need, built from installed packages.

What: three USD files laid out as on NVIDIA's asset server, under one root folder:

    Isaac/IsaacLab/Robots/Classic/Cartpole/cartpole.usd          (Isaac-Cartpole, Isaac-Cartpole-Direct)
    Isaac/IsaacLab/Environments/Grid/default_ground_plane_checker_v1/default_ground_plane.usda
                                                                 (GroundPlaneCfg, "plane" terrains)
    Isaac/Robots/IsaacSim/Ant/ant_instanceable.usd               (Isaac-Ant, Isaac-Ant-Direct)

and README.txt, which says where each file came from and under which licence.

Why: IsaacLab 3.0 spawns robots and the ground from USD files on NVIDIA's cloud storage. Without
internet access every task fails with "Unable to find the file: https://omniverse-content-...".
IsaacLab takes the asset root from the environment variable ISAACSIM_ASSET_ROOT instead when it is
set, so a folder holding these paths is enough to run the tasks above offline (other robots have no
local source and still need the asset server).

Where from (nothing is downloaded):
- cartpole.usd: the robot of the Newton cartpole golden test stage shipped in the isaaclab wheel
  (isaaclab/source/isaaclab_tasks/test/golden_stages/cartpole/newton-isaacsim_rtx_renderer-rgb.usda).
  /World/envs/env_0/Robot and the /Flattened_Prototype_* prims it references are copied with
  Sdf.CopySpec, which re-points the joint body targets to /Robot/...; /Robot is the default prim and
  its root translate is zeroed (the stage holds it at the task's initial height). Joints:
  slider_to_cart, cart_to_pole. IsaacLab, BSD-3-Clause.
- default_ground_plane.usda: written here: /World (default prim) with Environment (Xform with a
  scale op) / Geometry (a 100 m quad Mesh with primvars:st), GroundPlane/CollisionPlane (a Z-axis
  UsdGeom.Plane with UsdPhysics.CollisionAPI, infinite for Newton) and Looks/theGrid/Shader: the
  prims isaaclab.sim.spawn_ground_plane rescales, binds a physics material to and writes a colour to.
- ant_instanceable.usd: a byte copy of Newton's newton/examples/assets/ant.usda (same body and joint
  names as Isaac's ant; its bodies have density 1, about 0.18 kg per ant, where the MJCF ant has
  density 5). Newton, Apache-2.0.

When: isaaclab.utils.assets reads ISAACSIM_ASSET_ROOT once, when it is first imported, into
NUCLEUS_ASSET_ROOT_DIR / ISAAC_NUCLEUS_DIR / ISAACLAB_NUCLEUS_DIR, and the robot and ground configs
copy those into their usd_path when they are imported. Importing isaaclab_tasks, isaaclab_assets or
isaaclab_tasks.utils.parse_cfg imports it (`import isaaclab` and `import isaaclab.app` alone do
not), so call configure_isaaclab_paths() before any of those imports. Warp reads WARP_CACHE_PATH
when it initialises (the first simulation start), where it caches compiled kernels.

    python -m genpo.envs.isaaclab_assets [--root DIR] [--force]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import shutil
import sys
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ASSET_ROOT_VAR = "ISAACSIM_ASSET_ROOT"
WARP_CACHE_VAR = "WARP_CACHE_PATH"

CARTPOLE_USD = "Isaac/IsaacLab/Robots/Classic/Cartpole/cartpole.usd"
GROUND_PLANE_USD = (
    "Isaac/IsaacLab/Environments/Grid/default_ground_plane_checker_v1/default_ground_plane.usda"
)
ANT_USD = "Isaac/Robots/IsaacSim/Ant/ant_instanceable.usd"

_GOLDEN_STAGE = "isaaclab_tasks/test/golden_stages/cartpole/newton-isaacsim_rtx_renderer-rgb.usda"
# relative to the isaaclab package folder: in the PyPI wheel, then in a source checkout
_GOLDEN_STAGE_CANDIDATES = (f"source/{_GOLDEN_STAGE}", f"../../{_GOLDEN_STAGE}")
_GOLDEN_ROBOT = "/World/envs/env_0/Robot"
_NEWTON_ANT = "examples/assets/ant.usda"
_GROUND_HALF_SIZE = 50.0  # m: spawn_ground_plane scales Environment by size / 100 m

_REPO_ROOT = Path(__file__).resolve().parents[2]  # = Path(genpo.__file__).resolve().parents[1]


def default_asset_root() -> Path:
    """The project's asset mirror folder: <repo root>/.cache/isaaclab/assets."""
    return _REPO_ROOT / ".cache" / "isaaclab" / "assets"


def default_warp_cache() -> Path:
    """The project's Warp kernel cache folder: <repo root>/.cache/isaaclab/warp."""
    return _REPO_ROOT / ".cache" / "isaaclab" / "warp"


def _package_file(package: str, candidates: tuple[str, ...]) -> Path:
    """The first existing file of `candidates`, paths relative to the installed `package` folder."""
    spec = importlib.util.find_spec(package)  # finds a top-level package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            f"the IsaacLab asset mirror is built from files of the '{package}' package, which is not "
            "installed here (pip install 'genpo[isaaclab]')"
        )
    base = Path(next(iter(spec.submodule_search_locations)))
    for relative in candidates:
        if (base / relative).is_file():
            return (base / relative).resolve()
    raise FileNotFoundError(
        f"the IsaacLab asset mirror needs {candidates[0]} from the '{package}' package, but "
        f"{package} {_version(package)} at {base} has no such file"
    )


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "(unknown version)"


def _golden_stage() -> Path:
    return _package_file("isaaclab", _GOLDEN_STAGE_CANDIDATES)


def _newton_ant() -> Path:
    return _package_file("newton", (_NEWTON_ANT,))


def _referenced_prototypes(layer, root: str) -> list[str]:
    """Root prims that prims under `root` reference internally (the flattened instance prototypes)."""
    from pxr import Sdf

    found: set[str] = set()

    def visit(path: Sdf.Path) -> None:
        if not path.IsPrimPath():
            return
        refs = layer.GetPrimAtPath(path).referenceList
        for items in (refs.explicitItems, refs.addedItems, refs.prependedItems, refs.appendedItems):
            found.update(str(ref.primPath) for ref in items if not ref.assetPath)

    layer.Traverse(root, visit)
    return sorted(found)


def _outside_paths(layer, roots: list[str]) -> list[str]:
    """Relationship targets and attribute connections of `layer` that point outside `roots`."""
    from pxr import Sdf

    prefixes = [Sdf.Path(root) for root in roots]
    outside: list[str] = []

    def visit(path: Sdf.Path) -> None:
        spec = layer.GetObjectAtPath(path)
        if isinstance(spec, Sdf.RelationshipSpec):
            targets = spec.targetPathList.GetAddedOrExplicitItems()
        elif isinstance(spec, Sdf.AttributeSpec):
            targets = spec.connectionPathList.GetAddedOrExplicitItems()
        else:
            return
        outside.extend(f"{path} -> {t}" for t in targets if not any(t.HasPrefix(p) for p in prefixes))

    layer.Traverse(Sdf.Path.absoluteRootPath, visit)
    return outside


def _write_cartpole(dst: Path) -> None:
    from pxr import Gf, Sdf

    source_path = _golden_stage()
    source = Sdf.Layer.FindOrOpen(str(source_path))
    if source is None or not source.GetPrimAtPath(_GOLDEN_ROBOT):
        raise FileNotFoundError(f"{source_path} has no {_GOLDEN_ROBOT} prim to build cartpole.usd from")
    layer = Sdf.Layer.CreateAnonymous(".usda")
    for key in ("upAxis", "metersPerUnit", "kilogramsPerUnit"):
        layer.pseudoRoot.SetInfo(key, source.pseudoRoot.GetInfo(key))
    prototypes = _referenced_prototypes(source, _GOLDEN_ROBOT)
    for prototype in prototypes:
        Sdf.CopySpec(source, prototype, layer, prototype)
    # CopySpec re-points paths inside the copied tree (joint body0/body1) from the source to /Robot
    Sdf.CopySpec(source, _GOLDEN_ROBOT, layer, "/Robot")
    layer.defaultPrim = "Robot"
    layer.GetAttributeAtPath("/Robot.xformOp:translate").default = Gf.Vec3d(0.0, 0.0, 0.0)
    outside = _outside_paths(layer, ["/Robot", *prototypes])
    if outside:
        raise RuntimeError(f"cartpole.usd would point outside itself: {outside}")
    layer.Export(str(dst))


def _write_ground_plane(dst: Path) -> None:
    from pxr import Gf, Sdf, Usd, UsdGeom, UsdPhysics, UsdShade

    stage = Usd.Stage.CreateInMemory()
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    stage.SetDefaultPrim(UsdGeom.Xform.Define(stage, "/World").GetPrim())

    UsdGeom.Xform.Define(stage, "/World/Environment").AddScaleOp().Set(Gf.Vec3f(1.0, 1.0, 1.0))
    mesh = UsdGeom.Mesh.Define(stage, "/World/Environment/Geometry")
    h = _GROUND_HALF_SIZE
    mesh.CreatePointsAttr([Gf.Vec3f(-h, -h, 0), Gf.Vec3f(h, -h, 0), Gf.Vec3f(h, h, 0), Gf.Vec3f(-h, h, 0)])
    mesh.CreateFaceVertexCountsAttr([4])
    mesh.CreateFaceVertexIndicesAttr([0, 1, 2, 3])
    mesh.CreateExtentAttr([Gf.Vec3f(-h, -h, 0), Gf.Vec3f(h, h, 0)])
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    primvars = UsdGeom.PrimvarsAPI(mesh)
    st = primvars.CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex)
    st.Set([Gf.Vec2f(-1, -1), Gf.Vec2f(1, -1), Gf.Vec2f(1, 1), Gf.Vec2f(-1, 1)])

    UsdGeom.Scope.Define(stage, "/World/Looks")
    material = UsdShade.Material.Define(stage, "/World/Looks/theGrid")
    shader = UsdShade.Shader.Define(stage, "/World/Looks/theGrid/Shader")
    shader.CreateIdAttr("UsdPreviewSurface")
    shader.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).Set(Gf.Vec3f(0.5, 0.5, 0.5))
    material.CreateSurfaceOutput().ConnectToSource(shader.ConnectableAPI(), "surface")
    UsdShade.MaterialBindingAPI.Apply(mesh.GetPrim()).Bind(material)

    UsdGeom.Xform.Define(stage, "/World/GroundPlane")
    plane = UsdGeom.Plane.Define(stage, "/World/GroundPlane/CollisionPlane")
    plane.CreateAxisAttr(UsdGeom.Tokens.z)
    UsdPhysics.CollisionAPI.Apply(plane.GetPrim())
    stage.GetRootLayer().Export(str(dst))


def _write_ant(dst: Path) -> None:
    shutil.copyfile(_newton_ant(), dst)


@dataclass(frozen=True)
class _Asset:
    path: str  # relative to the mirror root, as IsaacLab asks for it
    write: Callable[[Path], None]
    origin: Callable[[], str]  # for README.txt


ASSETS: tuple[_Asset, ...] = (
    _Asset(
        CARTPOLE_USD,
        _write_cartpole,
        lambda: f"/World/envs/env_0/Robot (re-rooted at /Robot) of {_golden_stage()}, "
        f"isaaclab {_version('isaaclab')}, BSD-3-Clause (c) The Isaac Lab Project Developers",
    ),
    _Asset(
        GROUND_PLANE_USD,
        _write_ground_plane,
        lambda: "written by genpo.envs.isaaclab_assets (a quad mesh and a collision plane in the "
        "layout isaaclab.sim.spawn_ground_plane expects)",
    ),
    _Asset(
        ANT_USD,
        _write_ant,
        lambda: f"a copy of {_newton_ant()}, newton {_version('newton')}, Apache-2.0 "
        "(c) The Newton Developers",
    ),
)


def _readme() -> str:
    lines = [
        "Local mirror of the IsaacLab assets genpo's CPU tasks use; point ISAACSIM_ASSET_ROOT here.",
        "Built by `python -m genpo.envs.isaaclab_assets` from files of installed packages; nothing",
        "was downloaded. Licences: IsaacLab is BSD-3-Clause, Newton is Apache-2.0; their licence",
        "texts come with the installed isaaclab and newton distributions.",
        "",
    ]
    for asset in ASSETS:
        lines += [asset.path, f"    {asset.origin()}"]
    return "\n".join(lines) + "\n"


def _write_atomic(dst: Path, write: Callable[[Path], None]) -> None:
    """Write `dst` through a temporary file in its folder, so `dst` is never left half-written."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}.{uuid.uuid4().hex[:8]}.tmp{dst.suffix}")  # USD needs the suffix
    try:
        write(tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def _sync_mirror(root: Path, force: bool) -> list[tuple[Path, bool]]:
    """Write the missing (all, with force) mirror files; returns (path, written) per file."""
    if importlib.util.find_spec("pxr") is None:
        raise ImportError("the IsaacLab asset mirror is built with OpenUSD ('pxr'), which IsaacLab installs")
    files: list[tuple[Path, Callable[[Path], None]]] = [(root / a.path, a.write) for a in ASSETS]
    files.append((root / "README.txt", lambda tmp: tmp.write_text(_readme())))
    done = []
    for dst, write in files:
        build = force or not dst.is_file()
        if build:
            _write_atomic(dst, write)
        done.append((dst, build))
    return done


def build_asset_mirror(root: Path, force: bool = False) -> Path:
    """Build the asset mirror under `root` (files that exist are kept unless force); returns `root`."""
    root = Path(root).resolve()
    _sync_mirror(root, force)
    return root


def configure_isaaclab_paths() -> dict[str, str]:
    """Point ISAACSIM_ASSET_ROOT and WARP_CACHE_PATH at the project folders unless already set.

    An unset or empty ISAACSIM_ASSET_ROOT becomes default_asset_root(), where the mirror is built
    (missing files only); a value the user set is used as it is. An unset or empty WARP_CACHE_PATH
    becomes default_warp_cache(). Call it before importing isaaclab_tasks / isaaclab_assets (see the
    module docstring). Returns the values now in os.environ.
    """
    if not os.environ.get(ASSET_ROOT_VAR):
        os.environ[ASSET_ROOT_VAR] = str(build_asset_mirror(default_asset_root()))
    if not os.environ.get(WARP_CACHE_VAR):
        default_warp_cache().mkdir(parents=True, exist_ok=True)
        os.environ[WARP_CACHE_VAR] = str(default_warp_cache())
    assets = sys.modules.get("isaaclab.utils.assets")
    if assets is not None and assets.NUCLEUS_ASSET_ROOT_DIR != os.environ[ASSET_ROOT_VAR].rstrip("/\\"):
        warnings.warn(
            f"isaaclab.utils.assets was imported before {ASSET_ROOT_VAR} was set and keeps using "
            f"{assets.NUCLEUS_ASSET_ROOT_DIR!r}; configure the paths before importing isaaclab_tasks",
            RuntimeWarning,
            stacklevel=2,
        )
    return {name: os.environ[name] for name in (ASSET_ROOT_VAR, WARP_CACHE_VAR)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m genpo.envs.isaaclab_assets",
        description="Build the local IsaacLab asset mirror (set ISAACSIM_ASSET_ROOT to its root).",
    )
    parser.add_argument("--root", type=Path, default=default_asset_root(), help="mirror folder")
    parser.add_argument("--force", action="store_true", help="rebuild files that exist")
    args = parser.parse_args(argv)
    for path, written in _sync_mirror(Path(args.root).resolve(), args.force):
        print(f"{'built' if written else 'kept '}  {path}")


if __name__ == "__main__":
    from genpo.cli import user_errors

    with user_errors():
        main()
