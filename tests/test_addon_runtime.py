"""The addon archive itself: layout, size, no build-machine path in any byte, the
install command, and clean refusals when the runtime is incomplete or the engine's
GDNative API is unsupported (one line naming what is missing; no hang, no abort)."""

from __future__ import annotations

import os
import re
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import addonutil
from gdhttp import addon

GODOT = os.environ.get("GDHTTP_GODOT", addonutil.GODOT)
MIB = 1024 * 1024


def _members() -> list[str]:
    with zipfile.ZipFile(addonutil.archive()) as z:
        return z.namelist()


def test_archive_layout_and_size() -> None:
    path = addonutil.archive()
    assert re.fullmatch(r"gdhttp-\d+\.\d+\.\d+-linux-x86_64\.zip", path.name)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # exactly one archive
    assert path.stat().st_size <= 20 * MIB, path.stat().st_size
    names = _members()
    assert {n.split("/")[0] for n in names} == {"addons", "LICENSE"}
    assert all(n == "LICENSE" or n.startswith("addons/gdhttp/") for n in names)
    for need in ("gdhttp.gdnlib", "plugin.cfg", "plugin.gd", "PyHTTPClient.gdns",
                 "PyHTTPRequest.gdns", "PyHTTPSession.gdns", "PyEventSource.gdns",
                 "THIRD_PARTY_LICENSES.txt",
                 "bin/libgdhttp.so",
                 "bin/libpython3.11.so.1.0", "bin/python311.zip", "bin/gdhttp.zip",
                 "bin/libssl.so.3", "bin/libcrypto.so.3",
                 "bin/_cffi_backend.cpython-311-x86_64-linux-gnu.so",
                 "bin/_ssl.cpython-311-x86_64-linux-gnu.so"):  # fmt: skip
        assert f"addons/gdhttp/{need}" in names, need
    # bin/ is flat: Godot's export copies the dependencies flat next to the binary.
    assert not [n for n in names if n.startswith("addons/gdhttp/bin/") and n.count("/") > 3]


def test_gdnlib_lists_every_runtime_file_for_both_platforms() -> None:
    names = _members()
    with zipfile.ZipFile(addonutil.archive()) as z:
        gdnlib = z.read("addons/gdhttp/gdhttp.gdnlib").decode()
    shipped = {n.rsplit("/", 1)[1] for n in names if n.startswith("addons/gdhttp/bin/")}
    entry, deps = gdnlib.split("[entry]", 1)[1].split("[dependencies]", 1)
    for platform in ("Server.64", "X11.64"):
        assert f'{platform}="res://addons/gdhttp/bin/libgdhttp.so"' in entry, entry
        line = re.search(rf"^{re.escape(platform)}=\[(.*)\]$", deps, re.M)
        assert line is not None, deps
        listed = set(re.findall(r'"res://addons/gdhttp/bin/([^"]+)"', line.group(1)))
        assert listed == shipped - {"libgdhttp.so"}


def test_stdlib_is_compiled_and_pruned() -> None:
    with zipfile.ZipFile(addonutil.archive()) as outer:
        inner = outer.read("addons/gdhttp/bin/python311.zip")
    tmp = Path(addonutil.archive()).parent / "stdlib-check.zip"
    tmp.write_bytes(inner)
    try:
        with zipfile.ZipFile(tmp) as z:
            names = z.namelist()
    finally:
        tmp.unlink()
    assert "encodings/__init__.pyc" in names and "ssl.pyc" in names
    assert not [n for n in names if n.endswith(".py")]
    for gone in ("test/", "idlelib/", "tkinter/", "ensurepip/", "turtledemo/", "lib2to3/",
                 "pydoc_data/", "site-packages/"):  # fmt: skip
        assert not [n for n in names if n.startswith(gone)], gone


def _build_paths() -> list[bytes]:
    """This machine's paths, found independently of the code under test."""
    found = {str(addonutil.REPO), sys.prefix, sys.base_prefix, sys.exec_prefix,
             os.path.realpath(sys.base_prefix), str(sysconfig.get_config_var("LIBDIR")),
             *site.getsitepackages()}  # fmt: skip
    home = os.path.expanduser("~")
    if home not in ("", "/"):
        found.add(home)
    return [p.encode() for p in found if p and p != "/"]


def test_no_build_machine_path_in_any_file(tmp_path: Path) -> None:
    """Every file, binaries and the members of the inner zips included."""
    with zipfile.ZipFile(addonutil.archive()) as z:
        z.extractall(tmp_path)
    needles = _build_paths()
    hits = []
    scanned = 0
    for f in sorted(p for p in tmp_path.rglob("*") if p.is_file()):
        blobs = [(str(f.relative_to(tmp_path)), f.read_bytes())]
        if f.suffix == ".zip":
            with zipfile.ZipFile(f) as inner:
                blobs += [(f"{f.name}:{i}", inner.read(i)) for i in inner.namelist()]
        for name, data in blobs:
            scanned += 1
            hits += [(name, n.decode()) for n in needles if n in data]
    assert scanned > 500  # the inner zips were opened
    assert not hits, hits[:20]


def test_binaries_find_their_libraries_next_to_themselves(tmp_path: Path) -> None:
    with zipfile.ZipFile(addonutil.archive()) as z:
        z.extractall(tmp_path)
    bin_dir = tmp_path / "addons" / "gdhttp" / "bin"
    for so in sorted(bin_dir.glob("*.so*")):
        dyn = subprocess.run(["readelf", "-d", str(so)], capture_output=True, text=True,
                             check=True).stdout  # fmt: skip
        paths = re.findall(r"R(?:UN)?PATH\)\s+Library r(?:un)?path: \[(.*)\]", dyn)
        assert paths in ([], ["$ORIGIN"]), (so.name, paths)
        for needed in re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", dyn):
            system = re.match(r"(libc|libm|libpthread|libdl|librt|ld-linux)", needed)
            assert system or (bin_dir / needed).exists(), (so.name, needed)


def test_install_command_into_a_fresh_project(tmp_path: Path) -> None:
    project = addonutil.new_project(tmp_path / "p", install=False)
    (project / "addons" / "gdhttp").mkdir(parents=True)
    (project / "addons" / "gdhttp" / "stale.txt").write_text("old copy")
    for _ in range(2):  # twice: the second run replaces the first, nothing doubles
        proc = subprocess.run(
            [sys.executable, "-m", "gdhttp.addon", "install", str(project),
             "--archive", str(addonutil.archive())],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    target = project / "addons" / "gdhttp"
    assert (target / "bin" / "libgdhttp.so").is_file()
    assert not (target / "stale.txt").exists()
    text = (project / "project.godot").read_text()
    assert text.count('enabled=PoolStringArray( "gdhttp" )') == 1, text
    assert text.count('"class": "PyHTTPRequest"') == 1, text
    assert text.index("_global_script_classes") < text.index("[application]")
    (project / "project.godot").write_text("not a project file\n")
    proc = subprocess.run(
        [sys.executable, "-m", "gdhttp.addon", "install", str(project), "--archive",
         str(addonutil.archive())],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "config_version=4 missing" in proc.stderr


def test_install_refuses_what_is_not_a_project(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gdhttp.addon", "install", str(tmp_path), "--archive",
         str(addonutil.archive())],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"addon: not a Godot project (no project.godot): {tmp_path}"
    ]
    with pytest.raises(addon.AddonError, match="archive not found"):
        addon.find_archive(tmp_path / "missing.zip")


def _probe(project: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return addonutil.run_godot([GODOT, "--path", str(project), "-s", "res://probe.gd"],
                               home, timeout=60)  # fmt: skip


def _gdhttp_errors(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [ln for ln in (proc.stdout + proc.stderr).splitlines() if "gdhttp:" in ln]


@pytest.mark.engine
def test_complete_runtime_loads(tmp_path: Path) -> None:
    project = addonutil.new_project(tmp_path / "p")
    proc = _probe(project, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "CAN_INSTANCE PyHTTPClient True" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert "CAN_INSTANCE PyHTTPRequest True" in proc.stdout
    assert not _gdhttp_errors(proc)


@pytest.mark.engine
@pytest.mark.parametrize("missing", ["python311.zip", "gdhttp.zip",
                                     "_cffi_backend.cpython-311-x86_64-linux-gnu.so"])  # fmt: skip
def test_incomplete_runtime_is_one_line_and_no_classes(tmp_path: Path, missing: str) -> None:
    project = addonutil.new_project(tmp_path / "p")
    (project / "addons" / "gdhttp" / "bin" / missing).unlink()
    proc = _probe(project, tmp_path)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])  # not 134 (abort)
    assert "CAN_INSTANCE PyHTTPClient False" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    assert "CAN_INSTANCE PyHTTPRequest False" in proc.stdout
    lines = _gdhttp_errors(proc)
    assert len(lines) == 1, lines
    assert f"incomplete Python runtime: {missing} is missing" in lines[0]
    assert "Traceback" not in proc.stderr and "Fatal Python error" not in proc.stderr


@pytest.mark.engine
@pytest.mark.parametrize(("damaged", "message"), [
    ("python311.zip", "the bundled Python did not start"),
    ("gdhttp.zip", "the bridge's Python code did not load"),
])  # fmt: skip
def test_damaged_runtime_fails_without_abort(tmp_path: Path, damaged: str, message: str) -> None:
    project = addonutil.new_project(tmp_path / "p")
    (project / "addons" / "gdhttp" / "bin" / damaged).write_bytes(b"not a zip")
    proc = _probe(project, tmp_path)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    assert "CAN_INSTANCE PyHTTPClient False" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    lines = _gdhttp_errors(proc)
    assert len(lines) == 1 and message in lines[0], lines
    # Python is not entered again after the failure (cffi would complain per call).
    assert proc.stderr.count("called, but initialization code failed") <= 1, proc.stderr


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler is needed (the bridge is built with one)"
    out = tmp_path_factory.mktemp("host") / "host"
    subprocess.run([cc, "-O1", "-o", str(out), str(addonutil.REPO / "tests/addon/host.c"),
                    "-ldl"], check=True, timeout=60)  # fmt: skip
    return out


@pytest.mark.parametrize(("major", "with_11", "with_ns", "message"), [
    (2, 1, 1, "unsupported GDNative API: the engine's core API is not version 1.x"),
    (1, 0, 1, "unsupported GDNative API: core 1.1 is missing"),
    (1, 1, 0, "unsupported GDNative API: the NativeScript 1.x extension is missing"),
])  # fmt: skip
def test_unsupported_gdnative_api_is_one_line(
    host: Path, tmp_path: Path, major: int, with_11: int, with_ns: int, message: str
) -> None:
    with zipfile.ZipFile(addonutil.archive()) as z:
        z.extractall(tmp_path)
    lib = tmp_path / "addons" / "gdhttp" / "bin" / "libgdhttp.so"
    proc = subprocess.run([str(host), str(lib), str(major), str(with_11), str(with_ns)],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout.strip() == "HOST DONE"
    assert proc.stderr.strip().splitlines() == [f"ERROR: gdhttp: {message}"] or (
        len(proc.stderr.strip().splitlines()) == 1 and message in proc.stderr
    ), proc.stderr


def test_build_path_scan_sees_binaries_and_inner_zips(tmp_path: Path) -> None:
    """The check make_archive runs before it writes anything finds planted paths."""
    from gdhttp.gdnative import bundle

    (tmp_path / "lib.so").write_bytes(b"\x7fELF\x00" + str(addonutil.REPO).encode() + b"\x00")
    with zipfile.ZipFile(tmp_path / "inner.zip", "w") as z:
        z.writestr("mod.pyc", b"\x00" + sys.base_prefix.encode() + b"/lib\x00")
    (tmp_path / "clean.txt").write_text("nothing here")
    found = bundle.find_build_paths(tmp_path)
    assert ("lib.so", str(addonutil.REPO)) in found
    assert ("inner.zip:mod.pyc", sys.base_prefix) in found
    assert not [f for f, _ in found if f == "clean.txt"]


def test_prefix_literal_is_overwritten_same_length_keeping_its_tail() -> None:
    from gdhttp.gdnative import bundle

    prefix = sys.base_prefix.encode()
    data = b"WITH_NEXT_FRAMEWORK\x00" + prefix + b"\x00EXEC_PREFIX\x00"
    out = bundle._neutralise_prefix(data)
    assert len(out) == len(data)
    assert prefix not in out
    assert out.endswith(b"/" + prefix.rsplit(b"/", 1)[1] + b"\x00EXEC_PREFIX\x00")


@pytest.mark.engine
def test_missing_libpython_is_named_by_the_loader_and_nothing_aborts(tmp_path: Path) -> None:
    """Without the bundled libpython, either the loader fails (the engine's message names
    the file) or it silently maps the system's libpython of the same soname, which the
    bridge notices and refuses in one line. Either way no class, no abort."""
    project = addonutil.new_project(tmp_path / "p")
    (project / "addons" / "gdhttp" / "bin" / "libpython3.11.so.1.0").unlink()
    proc = _probe(project, tmp_path)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-3000:])
    assert "CAN_INSTANCE PyHTTPClient False" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    lines = _gdhttp_errors(proc)
    if lines:  # a system libpython3.11 exists on this machine
        assert len(lines) == 1 and "libpython3.11.so.1.0 is missing" in lines[0], lines
        assert "was loaded instead" in lines[0]
    else:
        assert "libpython3.11.so.1.0: cannot open shared object file" in proc.stderr
