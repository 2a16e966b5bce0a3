"""``download_resume``: continue a partial ``download_file`` only when it is safe.

- The validator of a download (a strong ``ETag``, else ``Last-Modified``) is
  recorded next to the file, in ``<file>.gdhttp-resume`` (JSON), when its body
  starts; the record is removed when the download completes.
- A resumed request sends ``Range: bytes=<size>-`` and, when a validator was
  recorded, ``If-Range`` with it: a changed resource then comes back as a
  whole ``200`` that restarts the file, never as a spliced ``206``.
- A ``206`` must name the exact range asked for (``Content-Range`` start = the
  file's size, end + 1 = the total, length = ``Content-Length``); its body is
  counted against that range.
- A ``416`` is success only when its ``bytes */N`` total equals the file's size.
- Any other status leaves the partial file untouched.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from gdhttp import paths
from gdhttp.urls import header_value

__all__ = ["ContentRange", "ResumePlan", "parse_content_range", "plan_resume"]

log = logging.getLogger("gdhttp")

#: Suffix of the validator record kept next to a partial download.
SIDECAR_SUFFIX: Final = ".gdhttp-resume"

#: Largest validator record read back: it holds two short header values.
MAX_SIDECAR_BYTES: Final = 4096


@dataclass(frozen=True)
class ContentRange:
    """``bytes first-last/total``; ``first`` = ``last`` = -1 for ``bytes */total``,
    ``total`` = -1 for ``*``."""

    first: int
    last: int
    total: int


def parse_content_range(value: str | None) -> ContentRange | None:
    if not value:
        return None
    unit, _, spec = value.strip().partition(" ")
    if unit.lower() != "bytes":
        return None
    span, sep, total_text = spec.strip().partition("/")
    total_text = total_text.strip()
    if not sep or not (total_text == "*" or total_text.isdigit()):
        return None
    total = -1 if total_text == "*" else int(total_text)
    span = span.strip()
    if span == "*":
        return ContentRange(-1, -1, total) if total >= 0 else None
    first_text, dash, last_text = span.partition("-")
    if not dash or not first_text.isdigit() or not last_text.isdigit():
        return None
    first, last = int(first_text), int(last_text)
    if last < first or (total >= 0 and last >= total):
        return None
    return ContentRange(first, last, total)


def _sidecar(target: str) -> str:
    return target + SIDECAR_SUFFIX


@dataclass(frozen=True)
class ResumePlan:
    """A partial file to continue: its OS path, its size, the recorded validator."""

    target: str
    offset: int
    validator: str | None

    def request_headers(self) -> list[str]:
        headers = [f"Range: bytes={self.offset}-"]
        if self.validator:
            headers.append(f"If-Range: {self.validator}")
        return headers

    def check_partial(self, headers: Iterable[str], body_len: int) -> tuple[int, str]:
        """A 206's head: (bytes the body must have, "") or (-1, why it can't be appended)."""
        value = header_value(headers, "content-range")
        span = parse_content_range(value)
        if span is None or span.first < 0:
            return -1, f"206 with an unusable Content-Range {value!r}"
        if span.first != self.offset:
            return -1, f"server resumed at byte {span.first}, expected {self.offset}"
        length = span.last - span.first + 1
        if body_len >= 0 and body_len != length:
            return -1, (f"Content-Range {value!r} names {length} bytes but Content-Length "
                        f"is {body_len}")
        if span.total >= 0 and span.last + 1 != span.total:
            return -1, f"server sent bytes {span.first}-{span.last} of {span.total}, not the rest"
        return length, ""

    def check_unsatisfiable(self, headers: Iterable[str]) -> str:
        """A 416's head: "" if it says the file is already whole, else why not."""
        value = header_value(headers, "content-range")
        span = parse_content_range(value)
        if span is None or span.total < 0:
            return f"416 without a usable Content-Range ({value!r}); the file may be stale"
        if span.total != self.offset:
            return (f"416: the resource has {span.total} bytes, the partial file "
                    f"{self.offset}")
        return ""


def plan_resume(download_file: str, headers: Iterable[str]) -> ResumePlan | None:
    """The plan for continuing ``download_file``; None to download it whole.

    None when the caller sent their own Range, when the file is missing or
    empty, or when its path can't be used (the open reports that later).
    """
    if header_value(headers, "range") is not None:
        return None
    try:
        target = paths.writable_path(download_file)
        size = os.path.getsize(target)
    except (OSError, ValueError):
        return None
    if size <= 0:
        return None
    return ResumePlan(target, size, read_validator(target))


def read_validator(target: str) -> str | None:
    try:
        with open(_sidecar(target), "rb") as handle:
            record = json.loads(handle.read(MAX_SIDECAR_BYTES))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    value = record.get("etag") or record.get("last_modified")
    if not isinstance(value, str) or not value.isprintable() or not value.isascii():
        return None
    return value


def record_validator(target: str, headers: Iterable[str]) -> None:
    """Remember the response's validator for a later resume (best effort)."""
    headers = list(headers)
    etag = header_value(headers, "etag") or ""
    if etag.startswith("W/"):
        etag = ""  # If-Range needs a strong validator (RFC 9110 13.1.5)
    modified = header_value(headers, "last-modified") or ""
    if not etag and not modified:
        forget_validator(target)
        return
    try:
        with open(_sidecar(target), "w", encoding="ascii") as handle:
            json.dump({"etag": etag, "last_modified": modified}, handle)
    except (OSError, ValueError, UnicodeEncodeError) as exc:
        log.debug("gdhttp: can't record the resume validator: %s", exc)


def forget_validator(target: str) -> None:
    try:
        os.unlink(_sidecar(target))
    except (OSError, ValueError):
        pass
