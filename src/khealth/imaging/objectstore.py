"""Content-addressed object storage for DICOM files (and any other blob).

An object's name is the SHA-256 of its bytes, so a repeated store writes nothing new, a
stored object never changes, and a read can prove it got the bytes that were stored.

* :class:`FileObjectStore` (the default) keeps ``<root>/ab/cd/<sha256>``; a write goes to a
  temporary file in the same directory, is fsynced and renamed into place, so a crash never
  leaves a half-written object under its final name.
* :class:`S3ObjectStore` adapts any client with boto3's ``put_object`` / ``get_object`` /
  ``head_object`` call shapes (AWS S3, MinIO, Ceph RGW, NCloud Object Storage...).  The
  project does not depend on boto3: production passes ``boto3.client("s3", ...)`` in, the
  tests pass a fake.  Keys are ``<prefix>ab/cd/<sha256>`` as on the filesystem.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ObjectNotFound(KeyError):
    """No object under this name."""


class CorruptObject(Exception):
    """The stored bytes no longer hash to their name."""


class ObjectStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data``; its SHA-256 (hex) is its name. Storing it again is a no-op."""
        ...

    def get(self, sha: str) -> bytes:
        """The bytes named ``sha``; ObjectNotFound, or CorruptObject if they changed."""
        ...

    def exists(self, sha: str) -> bool: ...


def object_name(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked_name(sha: str) -> str:
    # The name becomes a path or a key: refuse anything but 64 hex digits (no "../").
    if not _SHA256.match(sha):
        raise ObjectNotFound(sha)
    return sha


def _verified(sha: str, data: bytes) -> bytes:
    if object_name(data) != sha:
        raise CorruptObject(sha)
    return data


def shard_key(sha: str) -> str:
    return f"{sha[:2]}/{sha[2:4]}/{sha}"


class FileObjectStore:
    """Objects as files under ``root`` (``KHEALTH_DATA_DIR/objects`` by default)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, sha: str) -> Path:
        return self.root / shard_key(_checked_name(sha))

    def put(self, data: bytes) -> str:
        sha = object_name(data)
        path = self._path(sha)
        if path.exists():
            return sha
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)  # atomic; two writers of one object write the same bytes
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha

    def get(self, sha: str) -> bytes:
        try:
            data = self._path(sha).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(sha) from None
        return _verified(sha, data)

    def exists(self, sha: str) -> bool:
        try:
            return self._path(sha).exists()
        except ObjectNotFound:
            return False


class MemoryObjectStore:
    """Objects in a dict: for tests and the in-memory reference setup."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        sha = object_name(data)
        self.objects.setdefault(sha, bytes(data))
        return sha

    def get(self, sha: str) -> bytes:
        try:
            return _verified(sha, self.objects[_checked_name(sha)])
        except KeyError:
            raise ObjectNotFound(sha) from None

    def exists(self, sha: str) -> bool:
        return sha in self.objects


class S3Client(Protocol):
    """The three calls of boto3's S3 client that the adapter uses (keyword arguments as
    boto3 takes them)."""

    def put_object(self, **kwargs: Any) -> Any: ...

    def get_object(self, **kwargs: Any) -> Any: ...

    def head_object(self, **kwargs: Any) -> Any: ...


def _is_missing(error: Exception) -> bool:
    """boto3 raises ``ClientError`` with ``response["Error"]["Code"]`` of NoSuchKey / 404;
    recognised by shape so that this module does not import botocore."""
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return False
    code = str(response.get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound")


class S3ObjectStore:
    """Objects in an S3-compatible bucket. ``put`` asks first (a HEAD), so storing an
    object again costs one request and no upload."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "objects/") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def _key(self, sha: str) -> str:
        return self.prefix + shard_key(_checked_name(sha))

    def put(self, data: bytes) -> str:
        sha = object_name(data)
        if not self.exists(sha):
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(sha), Body=data,
                ContentType="application/octet-stream",
            )  # fmt: skip
        return sha

    def get(self, sha: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(sha))
        except Exception as error:
            if _is_missing(error):
                raise ObjectNotFound(sha) from None
            raise
        body = answer["Body"]
        data = body.read() if hasattr(body, "read") else body
        return _verified(sha, bytes(data))

    def exists(self, sha: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(sha))
        except ObjectNotFound:
            return False
        except Exception as error:
            if _is_missing(error):
                return False
            raise
        return True
