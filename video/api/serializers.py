"""Output serializers of the video API (the writes take no body)."""

from rest_framework import serializers


class UploadTargetSerializer(serializers.Serializer):
    url = serializers.CharField(help_text="POST the file here as multipart form data.")
    fields = serializers.DictField(
        child=serializers.CharField(),
        help_text="Form fields to send before the file (field `file`), as with an S3 POST.",
    )


class RenditionSerializer(serializers.Serializer):
    name = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    bandwidth = serializers.IntegerField()


class VideoOutputSerializer(serializers.Serializer):
    lesson = serializers.CharField(source="lesson.external_id")
    status = serializers.CharField()
    progress = serializers.IntegerField()
    failure_reason = serializers.CharField()
    duration_seconds = serializers.FloatField(allow_null=True)
    renditions = RenditionSerializer(many=True)
    hls_url = serializers.CharField(allow_null=True)
    thumbnail_url = serializers.CharField(allow_null=True)
    updated_at = serializers.DateTimeField()


class SegmentSerializer(serializers.Serializer):
    at_seconds = serializers.FloatField(required=False)
    share_lost = serializers.FloatField(required=False)
    from_seconds = serializers.FloatField(required=False)
    to_seconds = serializers.FloatField(required=False)
    rewatches = serializers.IntegerField(required=False)


class VideoAnalyticsSerializer(serializers.Serializer):
    views = serializers.IntegerField()
    unique_viewers = serializers.IntegerField()
    total_watch_seconds = serializers.FloatField()
    average_watch_seconds = serializers.FloatField()
    average_share_watched = serializers.FloatField()
    completion_rate = serializers.FloatField(help_text="Share of views that saw >= 90%.")
    bucket_seconds = serializers.FloatField()
    retention = serializers.ListField(
        child=serializers.FloatField(), help_text="Share of views still watching, per bucket."
    )
    drop_offs = SegmentSerializer(many=True)
    rewatched = SegmentSerializer(many=True)
    speeds = serializers.DictField(child=serializers.FloatField())
    renditions = serializers.DictField(child=serializers.FloatField())
    devices = serializers.DictField(child=serializers.IntegerField())
