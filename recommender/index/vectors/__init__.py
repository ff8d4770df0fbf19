"""Vector stores behind one protocol: FAISS in the index directory, or a Qdrant collection."""
