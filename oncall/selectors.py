def layer_on_call_get(*, layer: str, at, severity=None):
    """Return the user on call for a rotation layer ("primary", "secondary", "management") at `at`."""
    # TODO: replaced by the rotation schedule
    return None
