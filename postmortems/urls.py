app_name = "postmortems"

urlpatterns = []
