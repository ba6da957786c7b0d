"""Video's write side: uploads, transcoding, playback tokens, heartbeats."""
