"""Django-free index core: Faiss stores (flat, HNSW) with our own ids, the exact numpy search, atomic snapshots,
the recovery policy and the process-local holder that converges on an ``IndexSource``."""
