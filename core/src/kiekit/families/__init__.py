"""Shared wire logic of KIE's API families, written once for every plugin of that family.

- :mod:`~kiekit.families.market`: the unified market jobs API (``jobs/createTask`` +
  ``jobs/recordInfo``; Grok Imagine, Kling, Sora 2, Seedream, … — kie-api.md §2).
- :mod:`~kiekit.families.success_flag`: the per-product APIs that report ``successFlag``
  0–3 (4o Image, Flux Kontext, Veo, Luma — kie-api.md §3.1–3.5).
"""
