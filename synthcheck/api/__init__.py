"""SynthCheck REST API (FastAPI): ``create_app(settings)`` or ``synthcheck serve``.

Layout: ``main.py`` assembles the app and loads the Detector in the lifespan, ``deps.py`` holds
the ``Annotated`` dependencies, ``schemas.py`` the response models, ``routes/`` one router per
resource, ``service.py`` the work behind ``/v1/verify`` and ``batcher.py`` the micro-batcher
that merges model calls of concurrent requests.

    synthcheck serve --port 8000 --max-upload-mb 10          # OpenAPI docs: /docs, /openapi.json
    curl -F files=@a.jpg -F files=@b.png localhost:8000/v1/verify
    curl -F files=@a.jpg 'localhost:8000/v1/verify?explain=gradcam'   # + base64 PNG maps
    curl localhost:8000/v1/model ; curl localhost:8000/v1/health

``/v1/verify`` answers a list with, per file, the ``synthcheck predict --json`` record
(``path`` = the upload's filename) or ``{"path", "error"}``: 200 if any file was analysed, 422
if none was. Errors are JSON ``{"error", "status"}``: 400 bad request, 413 body over
``max_upload_mb`` or more than ``max_files`` files, 415 not multipart or a type outside
``allowed_types``. Settings: :class:`Settings` (``SYNTHCHECK_API_*`` variables).
"""

from .config import Settings

__all__ = ["Settings", "create_app"]


def create_app(*args, **kwargs):  # thin re-export that imports FastAPI lazily
    """See :func:`synthcheck.api.main.create_app`."""
    from .main import create_app as _create_app

    return _create_app(*args, **kwargs)
