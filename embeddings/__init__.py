"""medcodes embeddings layer: code-set loaders, documents, encoder and index build."""
