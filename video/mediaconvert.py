"""AWS MediaConvert, the production transcoder: the job's settings (the same HLS ladder, AAC
128 kbps and a poster as the embedded ffmpeg backend) and the client. No Django imports."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from video.ffmpeg import AUDIO_BITRATE, LADDER, POSTER_WIDTH

AUDIO_BPS = int(AUDIO_BITRATE.rstrip("k")) * 1000


@lru_cache(maxsize=4)
def client(*, region: str, endpoint_url: str | None = None) -> Any:
    """One boto3 client per region and endpoint for the process (clients are thread-safe)."""
    import boto3

    return boto3.client("mediaconvert", region_name=region, endpoint_url=endpoint_url or None)


def job_settings(*, input_uri: str, output_uri: str, segment_seconds: int) -> dict[str, Any]:
    """MediaConvert `Settings`: one HLS group with the ladder, one frame-capture poster."""
    outputs = [
        {
            "NameModifier": f"_{name}",
            "ContainerSettings": {"Container": "M3U8", "M3u8Settings": {}},
            "VideoDescription": {
                "Height": height,
                "ScalingBehavior": "DEFAULT",
                "CodecSettings": {
                    "Codec": "H_264",
                    "H264Settings": {
                        "RateControlMode": "QVBR",
                        "MaxBitrate": kbps * 1000,
                        "GopSize": float(segment_seconds),
                        "GopSizeUnits": "SECONDS",
                        "SceneChangeDetect": "DISABLED",
                        "CodecProfile": "HIGH",
                    },
                },
            },
            "AudioDescriptions": [
                {
                    "CodecSettings": {
                        "Codec": "AAC",
                        "AacSettings": {
                            "Bitrate": AUDIO_BPS,
                            "CodingMode": "CODING_MODE_2_0",
                            "SampleRate": 48000,
                        },
                    }
                }
            ],
        }
        for name, height, kbps in LADDER
    ]
    return {
        "Inputs": [
            {
                "FileInput": input_uri,
                "AudioSelectors": {"Audio Selector 1": {"DefaultSelection": "DEFAULT"}},
                "VideoSelector": {},
            }
        ],
        "OutputGroups": [
            {
                "Name": "HLS",
                "OutputGroupSettings": {
                    "Type": "HLS_GROUP_SETTINGS",
                    "HlsGroupSettings": {
                        "Destination": f"{output_uri}master",
                        "SegmentLength": segment_seconds,
                        "MinSegmentLength": 0,
                        "SegmentControl": "SEGMENTED_FILES",
                    },
                },
                "Outputs": outputs,
            },
            {
                "Name": "Poster",
                "OutputGroupSettings": {
                    "Type": "FILE_GROUP_SETTINGS",
                    "FileGroupSettings": {"Destination": f"{output_uri}poster"},
                },
                "Outputs": [
                    {
                        "ContainerSettings": {"Container": "RAW"},
                        "VideoDescription": {
                            "Width": POSTER_WIDTH,
                            "CodecSettings": {
                                "Codec": "FRAME_CAPTURE",
                                "FrameCaptureSettings": {
                                    "FramerateNumerator": 1,
                                    "FramerateDenominator": 5,
                                    "MaxCaptures": 2,
                                    "Quality": 80,
                                },
                            },
                        },
                    }
                ],
            },
        ],
    }


def renditions_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    """The HLS renditions a COMPLETE job reports (by its output details), tallest first."""
    result = []
    groups = job.get("OutputGroupDetails", [])
    ladder = {height: (name, kbps) for name, height, kbps in LADDER}
    for detail in groups[0].get("OutputDetails", []) if groups else []:
        video = detail.get("VideoDetails", {})
        height, width = video.get("HeightInPx"), video.get("WidthInPx")
        if not height:
            continue
        name, kbps = ladder.get(height, (f"{height}p", 0))
        result.append(
            {
                "name": name,
                "width": width,
                "height": height,
                "bandwidth": (kbps * 1000 + AUDIO_BPS),
                "playlist": f"master_{name}.m3u8",
            }
        )
    return sorted(result, key=lambda r: -r["height"])
