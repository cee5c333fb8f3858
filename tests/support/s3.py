"""A local S3-compatible server for tests: moto in server mode on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx

from tests.fakes.server import free_port

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
REGION = "us-east-1"


@dataclass
class S3Server:
    endpoint: str
    proc: subprocess.Popen[bytes]

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def create_bucket(self, name: str) -> None:
        self.client().create_bucket(Bucket=name)

    def keys(self, bucket: str) -> list[str]:
        listing = self.client().list_objects_v2(Bucket=bucket)
        return sorted(obj["Key"] for obj in listing.get("Contents", []))

    def read(self, bucket: str, key: str) -> tuple[bytes, str]:
        obj = self.client().get_object(Bucket=bucket, Key=key)
        return obj["Body"].read(), obj["ContentType"]

    def env(self, bucket: str, **extra: str) -> dict[str, str]:
        """The gateway settings that select this server and bucket."""
        return {
            "PIXELGATE_BLOB_STORE": "s3",
            "PIXELGATE_S3_ENDPOINT": self.endpoint,
            "PIXELGATE_S3_BUCKET": bucket,
            "PIXELGATE_S3_REGION": REGION,
            "PIXELGATE_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "PIXELGATE_S3_SECRET_ACCESS_KEY": SECRET_KEY,
            **extra,
        }

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_s3(log_dir: Path) -> S3Server:
    port = free_port()
    log = open(log_dir / "moto.log", "wb")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=log,
    )
    server = S3Server(f"http://127.0.0.1:{port}", proc)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError("moto server exited early")
        try:
            httpx.get(server.endpoint + "/moto-api/", timeout=1)
            return server
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError("moto server did not start") from None
            time.sleep(0.1)
