"""Fixtures of the video tests: generated clips (ffmpeg's test source), media under tmp."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from config.celery import app as celery_app

needs_ffmpeg = pytest.mark.skipif(
    not (shutil.which("ffmpeg") and shutil.which("ffprobe")), reason="ffmpeg is not installed"
)


def make_clip(path: Path, *, width: int, height: int, seconds: float, audio: bool = True) -> Path:
    """A test-pattern clip with a 440 Hz tone, as a camera or screen recorder would hand in."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
           f"testsrc=size={width}x{height}:rate=30:duration={seconds}"]  # fmt: skip
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(cmd, check=True)
    return path


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg is not installed")
    folder = tmp_path_factory.mktemp("clips")
    return {
        "1080p": make_clip(folder / "1080p.mp4", width=1920, height=1080, seconds=5),
        "720p": make_clip(folder / "720p.mp4", width=1280, height=720, seconds=3, audio=False),
    }


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STRIDE_VIDEO_FFMPEG_PRESET = "ultrafast"
    settings.STRIDE_VIDEO_SEGMENT_SECONDS = 2
    return settings.MEDIA_ROOT


@pytest.fixture
def eager(monkeypatch):
    """Tasks run in-process when enqueued (Celery's own eager mode, not a fake)."""
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
