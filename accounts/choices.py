from django.db import models


class Role(models.TextChoices):
    """A user's role is the highest of the role groups they belong to (superusers: admin)."""

    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    ADMIN = "admin", "Admin"


ROLE_RANK = {None: 0, Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3}
