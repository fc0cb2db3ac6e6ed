"""Emergency care: triage of a crew's assessment (:mod:`.triage`), live hospital status,
destination ranking and pre-notification. Domain code: no HTTP, no SQL.

Shared values live in :mod:`.model`.
"""
