"""Project-wide building blocks that every Stride app may import, and that import no app.

What lives here is shared mechanism, not domain: for example the bulk writer (`core.bulk`:
COPY, merges, natural-key upserts) and the plain records passed between apps
(`core.records`). It has no models and is not a Django app.
"""
