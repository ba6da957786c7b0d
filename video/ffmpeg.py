"""ffmpeg and ffprobe, the embedded transcoder: probing an upload, planning the HLS ladder,
building the one-pass command, and reading its `-progress` output. No Django imports.

One ffmpeg call decodes the source once and writes every rendition (H.264 with a fixed GOP
that lands a keyframe on every segment boundary, AAC 128 kbps), the master playlist, a poster
and a sprite of preview thumbnails for the seek bar; the WebVTT that maps times to the sprite's
tiles is written by `sprite_vtt`.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# (name, height, video kbit/s): the ladder of the brief. A rendition taller than the source is
# left out (never upscaled); the smallest one is always made.
LADDER: tuple[tuple[str, int, int], ...] = (
    ("1080p", 1080, 5000),
    ("720p", 720, 2800),
    ("480p", 480, 1400),
)
AUDIO_BITRATE = "128k"
THUMB_WIDTH, THUMB_HEIGHT = 160, 90
SPRITE_COLUMNS = 10
POSTER_WIDTH = 640


class ProbeError(Exception):
    """The file is not a video ffprobe can read; the message says why, for the lesson."""


@dataclass(frozen=True)
class Probe:
    duration: float
    width: int
    height: int
    fps: float
    has_audio: bool
    video_codec: str


@dataclass(frozen=True)
class Rendition:
    name: str
    width: int
    height: int
    video_kbps: int

    @property
    def bandwidth(self) -> int:
        return (self.video_kbps + 128) * 1000


def probe(path: Path, *, ffprobe: str = "ffprobe", timeout: float = 60) -> Probe:
    """What ffprobe reads in `path`; ProbeError with a reason a person understands if nothing."""
    try:
        done = subprocess.run(
            [
                ffprobe,
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as error:
        raise ProbeError("ffprobe is not installed on the worker.") from error
    except subprocess.TimeoutExpired as error:
        raise ProbeError("The file could not be read in time (ffprobe timed out).") from error
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise ProbeError(f"The file is not a readable video ({detail[:200]}).")
    info = json.loads(done.stdout or "{}")
    streams = info.get("streams", [])
    video = next(
        (
            s
            for s in streams
            if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
        ),
        None,
    )
    if video is None:
        raise ProbeError("The file has no video stream.")
    duration = _number(info.get("format", {}).get("duration")) or _number(video.get("duration"))
    if not duration or duration <= 0:
        raise ProbeError("The file's duration cannot be read.")
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise ProbeError("The video stream has no picture size.")
    return Probe(
        duration=duration,
        width=width,
        height=height,
        fps=_rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")) or 30.0,
        has_audio=any(s.get("codec_type") == "audio" for s in streams),
        video_codec=str(video.get("codec_name", "")),
    )


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _rate(value: object) -> float | None:
    if not isinstance(value, str) or "/" not in value:
        return _number(value)
    num, _, den = value.partition("/")
    n, d = _number(num), _number(den)
    return n / d if n and d else None


def ladder(source: Probe) -> list[Rendition]:
    """The renditions for `source`: each rung no taller than the source, widths even."""
    rungs = [rung for rung in LADDER if rung[1] <= source.height] or [LADDER[-1]]
    result = []
    for name, height, kbps in rungs:
        height = min(height, source.height - source.height % 2)
        width = round(source.width * height / source.height / 2) * 2
        result.append(Rendition(name=name, width=width, height=height, video_kbps=kbps))
    return result


def thumbnail_interval(duration: float) -> float:
    """Seconds between preview thumbnails: every 2 s, at most 100 of them."""
    return max(2.0, math.ceil(duration / 100))


def transcode_command(
    *,
    source: Path,
    out: Path,
    probe: Probe,
    renditions: list[Rendition],
    segment_seconds: int,
    ffmpeg: str = "ffmpeg",
    preset: str = "veryfast",
) -> list[str]:
    """The one ffmpeg call writing the ladder, master playlist, poster and sprite under `out`."""
    n = len(renditions)
    interval = thumbnail_interval(probe.duration)
    tiles = max(1, math.ceil(probe.duration / interval))
    rows = math.ceil(tiles / SPRITE_COLUMNS)
    poster_at = min(5.0, probe.duration / 2)
    graph = [f"[0:v]split={n + 2}" + "".join(f"[v{i}]" for i in range(n)) + "[sp][po]"]
    graph += [f"[v{i}]scale={r.width}:{r.height}[o{i}]" for i, r in enumerate(renditions)]
    graph.append(
        f"[sp]fps=1/{interval:g},scale={THUMB_WIDTH}:{THUMB_HEIGHT},"
        f"tile={SPRITE_COLUMNS}x{rows}[sprite]"
    )
    graph.append(
        f"[po]trim=start={poster_at:g},setpts=PTS-STARTPTS,scale={POSTER_WIDTH}:-2[poster]"
    )
    gop = max(1, round(probe.fps * segment_seconds))
    cmd = [
        ffmpeg, "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-progress", "pipe:1", "-nostats",
        "-i", str(source),
        "-filter_complex", ";".join(graph),
    ]  # fmt: skip
    for i, r in enumerate(renditions):
        cmd += ["-map", f"[o{i}]"]
        if probe.has_audio:
            cmd += ["-map", "0:a:0"]
        cmd += [
            f"-c:v:{i}", "libx264", f"-b:v:{i}", f"{r.video_kbps}k",
            f"-maxrate:v:{i}", f"{round(r.video_kbps * 1.07)}k",
            f"-bufsize:v:{i}", f"{r.video_kbps * 2}k",
        ]  # fmt: skip
    cmd += [
        "-preset", preset, "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
        "-force_key_frames", f"expr:gte(t,n_forced*{segment_seconds})",
    ]  # fmt: skip
    if probe.has_audio:
        cmd += ["-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ac", "2", "-ar", "48000"]
    stream_map = " ".join(
        f"v:{i},a:{i},name:{r.name}" if probe.has_audio else f"v:{i},name:{r.name}"
        for i, r in enumerate(renditions)
    )
    cmd += [
        "-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod",
        "-hls_flags", "independent_segments", "-hls_segment_type", "mpegts",
        "-hls_segment_filename", str(out / "%v" / "segment_%03d.ts"),
        "-master_pl_name", "master.m3u8", "-var_stream_map", stream_map,
        str(out / "%v" / "index.m3u8"),
        "-map", "[sprite]", "-frames:v", "1", "-update", "1", str(out / "sprite.jpg"),
        "-map", "[poster]", "-frames:v", "1", "-update", "1", str(out / "poster.jpg"),
    ]  # fmt: skip
    return cmd


def sprite_vtt(duration: float) -> str:
    """The WebVTT mapping each stretch of the video to its tile of sprite.jpg (#xywh)."""
    interval = thumbnail_interval(duration)
    tiles = max(1, math.ceil(duration / interval))
    lines = ["WEBVTT", ""]
    for i in range(tiles):
        start, end = i * interval, min(duration, (i + 1) * interval)
        x, y = (i % SPRITE_COLUMNS) * THUMB_WIDTH, (i // SPRITE_COLUMNS) * THUMB_HEIGHT
        lines += [
            f"{_vtt_time(start)} --> {_vtt_time(end)}",
            f"sprite.jpg#xywh={x},{y},{THUMB_WIDTH},{THUMB_HEIGHT}",
            "",
        ]
    return "\n".join(lines)


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    h, rest = divmod(millis, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def progress_percents(lines: Iterator[str], duration: float) -> Iterator[int]:
    """Percent done (0-99) from ffmpeg's `-progress` key=value lines; 100 is for the caller."""
    for line in lines:
        key, _, value = line.strip().partition("=")
        if key in ("out_time_us", "out_time_ms"):  # both are microseconds, despite the name
            micros = _number(value)
            if micros is not None and micros >= 0:
                yield min(99, int(micros / 1e6 / duration * 100))


def run(cmd: list[str], *, duration: float, on_progress: Callable[[int], None]) -> None:
    """Run `cmd`, calling `on_progress` with each new percent; raise RuntimeError on failure."""
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        last = -1
        for percent in progress_percents(iter(process.stdout.readline, ""), duration):
            if percent > last:
                last = percent
                on_progress(percent)
        stderr = process.stderr.read()
        code = process.wait()
    if code != 0:
        detail = (stderr.strip().splitlines() or [f"exit status {code}"])[-1]
        raise RuntimeError(f"ffmpeg failed: {detail[:300]}")
