from django.urls import path

from . import views_loans

urlpatterns = [
    path("book/", views_loans.book_list, name="book_list"),
    path("book/<int:pk>/", views_loans.book_detail, name="book_detail"),
    path("book/import/", views_loans.book_import, name="book_import"),
    path("book/import/confirm/", views_loans.book_import_commit, name="book_import_commit"),
    path("book/import/template/", views_loans.book_import_template, name="book_import_template"),
]
