"""The lab-facing service: a REST API (FastAPI, served by uvicorn) that analyses films and keeps the results.

``leukodet serve --weights W`` (:func:`leukodet.serve.server.run_server`) loads the model once and answers on
``/v1``; :func:`leukodet.serve.app.create_app` builds the same app for tests or another ASGI server. Modules:

* :mod:`.app`: the app factory and the JSON error answers;
* :mod:`.routes`: the endpoints; :mod:`.schemas`: their JSON bodies (the OpenAPI document);
* :mod:`.uploads`: request limits, type sniffing and decoding checks;
* :mod:`.analysis`: one analysis (film report of the uploads) in a worker thread;
* :mod:`.worker`: the bounded queue (503 when full); :mod:`.storage`: analysis folders + SQLite index;
* :mod:`.review_routes`: field images, downloads, review, audit log and COCO export; :mod:`.review` checks and
  logs a review (:mod:`.audit`), :mod:`.rebuild` rebuilds the report from the reviewed cells, :mod:`.export`
  writes the CSV table and the COCO zip;
* :mod:`.patch_routes`: patch labelling of a field (:mod:`.patch` plans and logs the actions,
  :mod:`.patch_state` derives a field's patch and boxes from the log, :mod:`.labels` reads the log: rows in
  force, undo, rows that concern the report; :mod:`.patch_schemas` the bodies);
* :mod:`.web`: the hematologist's web page at ``/`` (files in ``static/``).

See docs/service.md. FastAPI is imported only when this package is.
"""

from .app import create_app
from .uploads import Limits

__all__ = ["Limits", "create_app"]
