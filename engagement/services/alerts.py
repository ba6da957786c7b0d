# PLACEHOLDER (being written by the alerts helper): replace entirely.
def alerts_evaluate(**kwargs):
    raise NotImplementedError
