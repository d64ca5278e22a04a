from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def index(request: HttpRequest) -> HttpResponse:
    """The landing page: where the API, its docs and the live endpoint are."""
    return render(request, "web/index.html")
