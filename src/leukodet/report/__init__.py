"""Reports: annotated images, and the film-level report (``leukodet report``, see docs/report.md).

Film report pipeline: :mod:`.bank` (morphology bank of a film's detections) → :mod:`.differential` (counts,
Wilson 95 % intervals), :mod:`.flags` (YAML rules), :mod:`.morphology` (attribute tallies), :mod:`.text` (the
paper's fixed-template film text) → :mod:`.document` (JSON, schema ``leukodet.report/2``) → :mod:`.writers`
(JSON, :mod:`.html_page`, :mod:`.markdown_page`); :mod:`.film` runs it for a detector.
"""
