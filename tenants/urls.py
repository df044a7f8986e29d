from django.urls import path
from rest_framework.routers import SimpleRouter

from tenants import views

router = SimpleRouter(trailing_slash=False)
router.register("tokens", views.TokenViewSet, basename="token")
router.register("users", views.UserViewSet, basename="user")
router.register("workspaces", views.WorkspaceViewSet, basename="workspace")

urlpatterns = [
    path("auth/token", views.AuthTokenView.as_view(), name="auth-token"),
    path("me", views.MeView.as_view(), name="me"),
    *router.urls,
]
