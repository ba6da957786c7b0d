"""A Django upload handler that streams one multipart file straight to its place on disk.

Django's default handlers keep small files in memory and spool large ones to a temporary
folder before the view sees them; this one writes each chunk (64 KiB) to the upload's
destination as it arrives and stops reading once the size limit is passed, so a file of
several GB never sits in a web worker's memory nor is copied twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload


class StreamedFile(UploadedFile):
    """What the handler leaves in request.FILES: the path and size, the file already closed."""

    def __init__(self, path: Path, name: str, content_type: str, size: int) -> None:
        super().__init__(file=None, name=name, content_type=content_type, size=size)
        self.path = path


class VideoUploadHandler(FileUploadHandler):
    chunk_size = 64 * 2**10

    def __init__(self, destination: Path, max_bytes: int, request: Any = None) -> None:
        super().__init__(request)
        self.destination = destination
        self.partial = destination.with_name(destination.name + ".part")
        self.max_bytes = max_bytes
        self.too_large = False
        self.received = 0
        self.handled = False
        self._out: Any = None

    def new_file(self, field_name: str, file_name: str, content_type: str, *args, **kwargs):
        super().new_file(field_name, file_name, content_type, *args, **kwargs)
        if field_name != "file" or self.handled:
            return  # only the first "file" part is the video; others go to other handlers
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        self._out = self.partial.open("wb")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if self._out is None:
            return raw_data
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.too_large = True
            self._discard()
            # Stop reading: the rest of a too-large body is not worth receiving.
            raise StopUpload(connection_reset=True)
        self._out.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if self._out is None:
            return None
        self._out.close()
        self._out = None
        self.handled = True
        self.partial.replace(self.destination)
        return StreamedFile(self.destination, self.file_name, self.content_type, self.received)

    def upload_interrupted(self) -> None:
        self._discard()

    def _discard(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        self.partial.unlink(missing_ok=True)
