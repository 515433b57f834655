"""Reports: annotated images now; the film-level hematology report comes with the attribute issue."""
