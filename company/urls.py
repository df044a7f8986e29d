from django.urls import path

from company import views

urlpatterns = [path("company", views.CompanyView.as_view(), name="company")]
