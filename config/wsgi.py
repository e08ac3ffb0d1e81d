import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.settings import require_production_secrets

application = get_wsgi_application()

require_production_secrets()
