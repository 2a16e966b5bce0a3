"""gdhttp.paths outside the engine: OS paths, res:// and user:// roots, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gdhttp import HTTPClient, paths
from gdhttp.constants import Error
from gdhttp.request import HTTPRequest, MultipartForm


@pytest.fixture
def roots(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    res, user = tmp_path / "project", tmp_path / "user"
    res.mkdir()
    user.mkdir()
    previous = paths.current()
    paths.set_roots(res=str(res), user=str(user))
    yield res, user
    paths.install(previous)


def test_engine_paths_are_refused_without_a_project() -> None:
    assert isinstance(paths.current(), paths.OsFileSystem)
    with pytest.raises(FileNotFoundError, match="need a Godot project"):
        paths.read_bytes("res://certs/ca.pem")


def test_roots_map_res_and_user(roots: tuple[Path, Path]) -> None:
    res, user = roots
    (res / "certs").mkdir()
    (res / "certs" / "ca.pem").write_bytes(b"abc")
    assert paths.read_bytes("res://certs/ca.pem") == b"abc"
    assert paths.file_size("res://certs/ca.pem") == 3
    assert paths.is_file("res://certs/ca.pem")
    assert not paths.is_file("res://certs")
    assert paths.writable_path("user://dl.bin") == str(user / "dl.bin")


def test_missing_file_names_the_script_path(roots: tuple[Path, Path]) -> None:
    with pytest.raises(FileNotFoundError, match="No such file") as info:
        paths.open_read("res://nope.pem")
    assert info.value.filename == "res://nope.pem"
    assert paths.describe(info.value) == "No such file or directory: 'res://nope.pem'"


@pytest.mark.parametrize("bad", ["", "a\x00b", 5, None, b"x"])
def test_paths_that_never_name_a_file(bad: object) -> None:
    with pytest.raises(paths.PathError, match="path"):
        paths.open_read(bad)


def test_size_limit(tmp_path: Path) -> None:
    big = tmp_path / "big.pem"
    big.write_bytes(b"x" * 101)
    assert paths.read_bytes(big, 101) == b"x" * 101
    with pytest.raises(paths.PathError, match="larger than 100 bytes"):
        paths.read_bytes(big, 100)


def test_client_maps_missing_certificates_to_file_not_found(roots: tuple[Path, Path]) -> None:
    client = HTTPClient()
    assert client.set_trusted_certificates("res://certs/none.pem") == Error.ERR_FILE_NOT_FOUND
    assert "res://certs/none.pem" in client.get_error_message()
    assert client.set_crl("user://none.crl") == Error.ERR_FILE_NOT_FOUND
    assert client.set_client_certificate("res://none.pem") == Error.ERR_FILE_NOT_FOUND
    assert client.set_trusted_certificates("bad\x00path") == Error.ERR_INVALID_PARAMETER
    res, _ = roots
    (res / "junk.pem").write_text("not a certificate")
    assert client.set_trusted_certificates("res://junk.pem") == Error.ERR_INVALID_DATA


def test_request_uploads_resolve_through_paths(roots: tuple[Path, Path]) -> None:
    res, _ = roots
    (res / "up.bin").write_bytes(b"12345")
    form = MultipartForm("b")
    assert form.add_file("f", "res://up.bin") == Error.OK
    assert form.add_file("f", "res://missing.bin") == Error.ERR_FILE_NOT_FOUND
    assert form.add_file("f", "nul\x00") == Error.ERR_INVALID_PARAMETER
    body = b"".join(form.open())
    assert b"12345" in body and b'filename="up.bin"' in body
    assert len(body) == form.size()
    req = HTTPRequest()
    err = req.request_file("http://127.0.0.1:9/x", "res://missing.bin")
    assert err == Error.ERR_FILE_NOT_FOUND
    assert "res://missing.bin" in req.get_error_message()
