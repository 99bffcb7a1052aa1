app_name = "dataset"

urlpatterns: list = []
