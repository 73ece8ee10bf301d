"""The household's archive page (一户一档): the checklist, its documents and the upload form."""

from django.contrib.auth.decorators import login_required
from django.http import Http404


@login_required
def household_archive(request, pk):
    raise Http404


@login_required
def document_file(request, pk):
    raise Http404
