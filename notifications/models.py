from django.db import models  # noqa: F401  (tables arrive with their issue)
