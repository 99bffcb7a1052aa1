app_name = "models_ml"

urlpatterns: list = []
