import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.settings import require_production_secrets

application = get_asgi_application()

require_production_secrets()
