"""The article index: the store, the catalog, the lexical side and the stored lists,
kept in step in one directory."""
