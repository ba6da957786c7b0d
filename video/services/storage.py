"""Where a video's files live under MEDIA_ROOT: videos/<upload id>/source and .../hls/."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from django.conf import settings


def upload_folder(upload_id: uuid.UUID | str) -> Path:
    return Path(settings.MEDIA_ROOT) / "videos" / str(upload_id)


def source_file(upload_id: uuid.UUID | str) -> Path:
    return upload_folder(upload_id) / "source"


def hls_folder(upload_id: uuid.UUID | str) -> Path:
    return upload_folder(upload_id) / "hls"


def relative(path: Path) -> str:
    return str(path.relative_to(Path(settings.MEDIA_ROOT)))


def absolute(relative_path: str) -> Path:
    return Path(settings.MEDIA_ROOT) / relative_path


def upload_remove(upload_id: uuid.UUID | str) -> None:
    """Delete an upload's files (a replaced video's), if any are left."""
    shutil.rmtree(upload_folder(upload_id), ignore_errors=True)
