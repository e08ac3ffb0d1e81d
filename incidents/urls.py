app_name = "incidents"

urlpatterns = []
