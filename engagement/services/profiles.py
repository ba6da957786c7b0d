# PLACEHOLDER (being written by the alerts helper): replace entirely.
def profiles_refresh(**kwargs):
    raise NotImplementedError
