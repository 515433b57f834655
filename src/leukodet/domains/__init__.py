"""Domains: carry annotations across magnifications, microscopes and cameras (``leukodet transfer``,
``leukodet locate``; see docs/domains.md).

Modules: :mod:`.homography` (SIFT + Lowe ratio test + RANSAC estimate and the refusal rule), :mod:`.mapping`
(boxes and labelled regions through a homography, what is dropped), :mod:`.labels` (one image's labels in any
format leukodet reads, written back in the same format), :mod:`.transfer` (a transfer end to end and its
``transfer.json``), :mod:`.locate` (a magnified patch inside a wider field), :mod:`.overlay` (the QA image),
:mod:`.images` (image files) and :mod:`.jobs` (``api.transfer`` / ``api.locate``). Nothing is imported here,
so ``import leukodet.api`` does not load OpenCV.
"""
