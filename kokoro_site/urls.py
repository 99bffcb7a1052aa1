from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from kokoro_site.views import favicon

urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("roleplay.urls_accounts")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("roleplay.urls")),
    path("feedback/", include("feedback.urls")),
    path("dataset/", include("feedback.urls_dataset")),
    path("ml/partners/", include("models_ml.finetuning.urls")),
    path("ml/practice/", include("models_ml.practice.urls")),
    path("ml/arena/", include("models_ml.arena.urls")),
    path("ml/coaching/", include("models_ml.coaching.urls")),
    path("ml/jobs/", include("models_ml.jobs.urls")),
    path("ml/setup/", include("models_ml.bootstrap.urls")),
    path("ml/", include("models_ml.scoring.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
