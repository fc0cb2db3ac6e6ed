"""The content-addressed object store: the filesystem implementation, the in-memory one and
the S3 adapter (against a fake client with boto3's call shapes and error shape)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from khealth.imaging.objectstore import (
    CorruptObject,
    FileObjectStore,
    MemoryObjectStore,
    ObjectNotFound,
    ObjectStore,
    S3ObjectStore,
)


class NoSuchKey(Exception):
    """Shaped like botocore's ClientError for a missing key."""

    def __init__(self) -> None:
        super().__init__("missing")
        self.response = {"Error": {"Code": "NoSuchKey"}}


class FakeBody:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self) -> bytes:
        return self.data


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.puts = 0

    def put_object(self, **kwargs: Any) -> dict[str, Any]:
        self.puts += 1
        self.objects[(kwargs["Bucket"], kwargs["Key"])] = bytes(kwargs["Body"])
        return {}

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        try:
            return {"Body": FakeBody(self.objects[(kwargs["Bucket"], kwargs["Key"])])}
        except KeyError:
            raise NoSuchKey() from None

    def head_object(self, **kwargs: Any) -> dict[str, Any]:
        if (kwargs["Bucket"], kwargs["Key"]) not in self.objects:
            error = NoSuchKey()
            error.response = {"Error": {"Code": "404"}}
            raise error
        return {}


@pytest.fixture(params=["file", "memory", "s3"])
def objects(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "file":
        return FileObjectStore(tmp_path / "objects")
    if request.param == "memory":
        return MemoryObjectStore()
    return S3ObjectStore(FakeS3(), "khealth-test")


def test_an_object_is_named_by_its_sha256_and_read_back(objects: ObjectStore) -> None:
    data = b"\x00DICM and more"
    sha = objects.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert objects.exists(sha)
    assert objects.get(sha) == data


def test_storing_the_same_bytes_twice_is_one_object(objects: ObjectStore) -> None:
    assert objects.put(b"same") == objects.put(b"same")


def test_an_unknown_name_is_not_found(objects: ObjectStore) -> None:
    missing = "0" * 64
    assert not objects.exists(missing)
    with pytest.raises(ObjectNotFound):
        objects.get(missing)


@pytest.mark.parametrize("name", ["../../etc/passwd", "ABC", "g" * 64, ""])
def test_a_name_that_is_not_a_sha256_is_never_a_path(objects: ObjectStore, name: str) -> None:
    with pytest.raises(ObjectNotFound):
        objects.get(name)
    assert not objects.exists(name)


def test_the_filesystem_store_shards_by_the_first_four_hex_digits(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path)
    sha = store.put(b"x")
    assert (tmp_path / sha[:2] / sha[2:4] / sha).read_bytes() == b"x"
    assert not list(tmp_path.rglob(".incoming-*"))  # no temporary file left behind


def test_a_file_changed_on_disk_is_reported_not_served(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path)
    sha = store.put(b"original")
    (tmp_path / sha[:2] / sha[2:4] / sha).write_bytes(b"tampered")
    with pytest.raises(CorruptObject):
        store.get(sha)


def test_the_s3_adapter_uploads_once_under_a_sharded_key() -> None:
    client = FakeS3()
    store = S3ObjectStore(client, "bucket", prefix="dicom/")
    sha = store.put(b"payload")
    store.put(b"payload")
    assert client.puts == 1
    assert ("bucket", f"dicom/{sha[:2]}/{sha[2:4]}/{sha}") in client.objects


def test_the_s3_adapter_passes_on_errors_that_are_not_a_missing_key() -> None:
    class Broken(FakeS3):
        def get_object(self, **kwargs: Any) -> dict[str, Any]:
            raise ConnectionError("network down")

    with pytest.raises(ConnectionError):
        S3ObjectStore(Broken(), "bucket").get("a" * 64)
